"""Training: the YAML configs in ``configs/`` with a preview, and the runs under ``models/``.

Later work adds starting a run and the live charts; this screen already lists what exists.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, OptionList, TextArea
from textual.widgets.option_list import Option

from ..format import rel_path, short_path
from ..listing import list_configs, list_runs, read_text
from ..messages import ListingLoaded
from .base import ForgeScreen
from .listing_worker import ListingMixin

STATUS_STYLE = {"running": "bold green", "finished": "cyan", "failed": "bold red", "stopped": "yellow",
                "paused": "yellow"}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, "dim"))


class TrainingScreen(ListingMixin, ForgeScreen):
    """Pick a config; see the runs so far."""

    SCREEN_TITLE = "Training"
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Read the configs and runs again."),
        Binding("c", "focus('config-list')", "Configs", show=False, tooltip="Move to the list of configs."),
        Binding("u", "focus('runs-table')", "Runs", show=False, tooltip="Move to the table of runs."),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="training-top"):
            with Vertical(id="config-pane", classes="pane"):
                yield Label("configs/", classes="pane-title")
                yield OptionList(id="config-list")
            with Vertical(id="config-view", classes="pane"):
                yield Label("", id="config-title", classes="pane-title")
                yield TextArea("", id="config-text", read_only=True, show_line_numbers=True)
        with Vertical(id="runs-pane", classes="pane"):
            yield Label("runs (models/cpt, models/ift)", classes="pane-title")
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        table.add_columns("run", "type", "status", "iterations", "folder")
        self.query_one("#config-list", OptionList).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load_listing("configs", partial(list_configs, self.settings.configs_dir))
        self.load_listing("runs", partial(list_runs, self.settings))

    def action_focus(self, widget_id: str) -> None:
        self.query_one(f"#{widget_id}").focus()

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        if event.name == "configs":
            self._show_configs(event.rows)
        elif event.name == "runs":
            table = self.query_one("#runs-table", DataTable)
            table.clear()
            for run in event.rows:
                iters = "—" if run.iterations is None else str(run.iterations)
                table.add_row(run.name, run.kind.upper(), status_text(run.status), Text(iters, justify="right"),
                              rel_path(run.path, self.settings.workspace), key=str(run.path))
            if not event.rows:
                table.add_row(Text("no runs yet", style="italic dim"), "", "", "", "")

    def _show_configs(self, paths) -> None:
        options = self.query_one("#config-list", OptionList)
        previous = options.highlighted_option.id if options.highlighted_option else None
        options.clear_options()
        options.add_options([Option(p.name, id=str(p)) for p in paths])
        if not paths:
            self._preview(None)
            return
        ids = [str(p) for p in paths]
        options.highlighted = ids.index(previous) if previous in ids else 0

    @on(OptionList.OptionHighlighted, "#config-list")
    def _config_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._preview(event.option.id)

    def _preview(self, path: str | None) -> None:
        title = self.query_one("#config-title", Label)
        text = self.query_one("#config-text", TextArea)
        if path is None:
            title.update("no configs")
            text.load_text(f"# {short_path(self.settings.configs_dir)} has no .yaml files yet.\n"
                           "# `forgellm-tui demo` writes ready-made ones.")
            return
        from pathlib import Path

        title.update(rel_path(path, self.settings.workspace))
        text.load_text(read_text(Path(path)))
