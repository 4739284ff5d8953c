"""Checkpoints: every run with its type, status and iterations, and the published models."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from ..format import human_size, rel_path
from ..listing import list_published, list_runs
from ..messages import ListingLoaded
from .base import ForgeScreen
from .listing_worker import ListingMixin
from .training import status_text


class CheckpointsScreen(ListingMixin, ForgeScreen):
    """Runs and published models; ranking, compare and publish come with the engine."""

    SCREEN_TITLE = "Checkpoints"
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Read the runs and published models again."),
        Binding("u", "focus('ckpt-runs')", "Runs", show=False, tooltip="Move to the table of runs."),
        Binding("b", "focus('published-table')", "Published", show=False,
                tooltip="Move to the table of published models."),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="ckpt-runs-pane", classes="pane"):
            yield Label("runs", classes="pane-title")
            yield DataTable(id="ckpt-runs", cursor_type="row", zebra_stripes=True)
        with Vertical(id="published-pane", classes="pane"):
            yield Label("published models", classes="pane-title")
            yield DataTable(id="published-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#ckpt-runs", DataTable).add_columns("run", "type", "status", "iterations", "folder")
        self.query_one("#published-table", DataTable).add_columns("model", "size", "folder")
        self.query_one("#ckpt-runs", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load_listing("runs", partial(list_runs, self.settings))
        self.load_listing("published", partial(list_published, self.settings))

    def action_focus(self, widget_id: str) -> None:
        self.query_one(f"#{widget_id}").focus()

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        if event.name == "runs":
            table = self.query_one("#ckpt-runs", DataTable)
            table.clear()
            for run in event.rows:
                iters = "—" if run.iterations is None else f"{run.iterations:,}"
                table.add_row(run.name, run.kind.upper(), status_text(run.status), Text(iters, justify="right"),
                              rel_path(run.path, self.settings.workspace), key=str(run.path))
            if not event.rows:
                table.add_row(Text("no runs yet: start one on the Training screen (2)", style="italic dim"),
                              "", "", "", "")
        elif event.name == "published":
            table = self.query_one("#published-table", DataTable)
            table.clear()
            for row in event.rows:
                table.add_row(row.name, Text(human_size(row.size), justify="right"),
                              rel_path(row.path, self.settings.workspace), key=str(row.path))
            if not event.rows:
                table.add_row(Text("nothing published yet", style="italic dim"), "", "")
