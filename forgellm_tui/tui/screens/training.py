"""Training: pick and edit a config, see the estimate and the command line, start a run, and watch it
live (charts, status, log) with keyboard control. Two views share the screen: *setup* and *run*.

Run control, quitting and following run folders live in :mod:`.training_actions`; the thread workers
in :mod:`.training_workers`.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Label, OptionList, RichLog, Static, TextArea
from textual.widgets.option_list import Option

from ...core import events as ev
from ..config_draft import ConfigDraft, split_errors
from ..format import rel_path
from ..listing import list_configs
from ..messages import ListingLoaded
from ..training_messages import EstimateReady, FeedReady, FolderRead, RunEnded
from ..widgets.config_form import ConfigForm
from ..widgets.run_status import RunStatus
from ..widgets.training_charts import TrainingCharts
from .base import ForgeScreen
from .listing_worker import ListingMixin
from .training_actions import TrainingActions
from .training_workers import TrainingWorkers

STATUS_HZ = 4
"""Most status-panel redraws per second."""


def list_runs_quick(settings) -> list:
    from ...core.runs import list_runs

    return list_runs(settings, with_metrics=False)


class TrainingScreen(TrainingActions, TrainingWorkers, ListingMixin, ForgeScreen):
    """Configure, start, watch and control training runs."""

    SCREEN_TITLE = "Training"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", tooltip="Start a run with these settings, trained in this app."),
        Binding("ctrl+d", "start_detached", "Background", show=False,
                tooltip="Start the run in a background process (keeps going after quit)."),
        Binding("ctrl+w", "save_config", "Save as", show=False, tooltip="Save these settings as a new config."),
        Binding("ctrl+t", "toggle_view", "View", tooltip="Switch between the setup and the run view."),
        Binding("p", "pause", "Pause", tooltip="Pause or resume the run."),
        Binding("x", "stop", "Stop", tooltip="Stop the run (asks first); it saves a checkpoint."),
        Binding("k", "checkpoint", "Ckpt", tooltip="Save a checkpoint after the current step."),
        Binding("e", "extend", "Extend", tooltip="Add iterations to the run (or continue an ended one)."),
        Binding("f", "follow", "Follow", tooltip="Follow a run folder live (also headless runs)."),
        Binding("o", "open_checkpoints", "Open", show=False, tooltip="Open this run on the Checkpoints screen."),
        Binding("r", "refresh", "Refresh", show=False, tooltip="Read the configs and runs again."),
        Binding("c", "focus_configs", "Configs", show=False, tooltip="Move to the list of configs."),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.draft: ConfigDraft | None = None
        """The selected config file and its values (the form edits a copy)."""
        self.runs: list = []
        """Runs of the workspace (``core.runs.RunInfo``), for the follow picker."""
        self.estimate_lines: list[str] = []
        self.status_dirty = True
        self._estimate_key = ""
        self._estimate_timer = None
        self._auto_followed = False
        self._status_at = 0.0
        self._line = ""

    def compose_body(self) -> ComposeResult:
        yield Label("", id="training-line", classes="toolbar")
        with ContentSwitcher(id="training-views", initial="setup-view"):
            with Horizontal(id="setup-view"):
                with Vertical(id="setup-left"):
                    with Vertical(id="config-pane", classes="pane"):
                        yield Label("configs/", classes="pane-title")
                        yield OptionList(id="config-list")
                    with Vertical(id="preview-pane", classes="pane"):
                        yield Label("resolved config", id="preview-title", classes="pane-title")
                        yield TextArea("", id="config-preview", read_only=True, show_line_numbers=False, soft_wrap=False)
                with Vertical(id="form-pane", classes="pane"):
                    yield Label("settings", classes="pane-title")
                    yield ConfigForm(id="config-form")
                    yield Static("", id="form-errors", markup=False)
                    yield Static("", id="estimate", markup=False)
                    yield Static("", id="command-line", markup=False)
            with Horizontal(id="run-view"):
                yield TrainingCharts(id="charts")
                with Vertical(id="run-side"):
                    yield RunStatus(id="run-status", classes="pane")
                    yield RichLog(id="run-log", classes="pane", wrap=True, markup=False, max_lines=2000, min_width=1)

    def on_mount(self) -> None:
        self.query_one("#config-list", OptionList).focus()
        self.query_one("#run-status", RunStatus).border_title = "status"
        self.query_one("#run-log", RichLog).border_title = "log"
        self.set_interval(1 / STATUS_HZ, self._tick)
        self._show_line()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    # ------------------------------------------------------------------ widgets
    @property
    def form(self) -> ConfigForm:
        return self.query_one("#config-form", ConfigForm)

    @property
    def run_log(self) -> RichLog:
        return self.query_one("#run-log", RichLog)

    def show_view(self, name: str) -> None:
        """``setup`` or ``run``."""
        self.query_one("#training-views", ContentSwitcher).current = f"{name}-view"
        if name == "run":
            self.run_log.focus()
            self.charts.dirty = True
        self._show_line()

    def action_toggle_view(self) -> None:
        current = self.query_one("#training-views", ContentSwitcher).current
        self.show_view("setup" if current == "run-view" else "run")

    def action_focus_configs(self) -> None:
        self.show_view("setup")
        self.query_one("#config-list").focus()

    def _show_line(self) -> None:
        view = "run" if self.query_one("#training-views", ContentSwitcher).current == "run-view" else "setup"
        run = self.view
        text = ("setup · ctrl+r start · ctrl+d background · ctrl+w save as · ctrl+t run view" if view == "setup"
                else "run · p pause · x stop · k checkpoint · e extend · ctrl+t setup")
        if run is not None:
            total = f"/{run.max_iterations:,}" if run.max_iterations else ""
            text = f"{run.state} {run.iteration:,}{total} · " + text
        if text != self._line:
            self._line = text
            self.query_one("#training-line", Label).update(text, layout=False)

    def _tick(self) -> None:
        """Redraw the status a few times a second at most: when something changed, and once a second
        while a run is active (elapsed time and ETA)."""
        now = time.monotonic()
        clock = self.view is not None and self.view.is_active and now - self._status_at >= 1.0
        if not (self.status_dirty or clock) or not self.is_current:
            return
        self.status_dirty, self._status_at = False, now
        self.query_one("#run-status", RunStatus).show(self.view, time.time(), self.pending)
        self._show_line()

    # ------------------------------------------------------------------ configs
    def action_refresh(self) -> None:
        self.load_listing("configs", partial(list_configs, self.settings.configs_dir))
        self.load_listing("runs", partial(list_runs_quick, self.settings))

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        if event.name == "configs":
            self._show_configs(event.rows)
        elif event.name == "runs":
            self.runs = event.rows
            active = [r for r in self.runs if r.is_active]
            if active and self.view is None and not self._auto_followed:
                self._auto_followed = True  # a run started elsewhere is going on: show it
                self.follow_run(active[0].path)

    def _show_configs(self, paths: list[Path]) -> None:
        options = self.query_one("#config-list", OptionList)
        previous = options.highlighted_option.id if options.highlighted_option else None
        options.clear_options()
        options.add_options([Option(p.name, id=str(p)) for p in paths])
        if not paths:
            self.load_draft(None)
            return
        ids = [str(p) for p in paths]
        options.highlighted = ids.index(previous) if previous in ids else 0
        if previous in ids and self.draft is None:
            self.load_draft(Path(previous))

    @on(OptionList.OptionHighlighted, "#config-list")
    def _config_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        path = Path(event.option.id)
        if self.draft is None or self.draft.path != path:
            self.load_draft(path)

    def load_draft(self, path: Path | None) -> None:
        """Read a config into the form (None: a new, empty config)."""
        self.draft = ConfigDraft(path, self.settings.workspace)
        self.form.load(self.draft)
        title = f"{path.name} (resolved)" if path else "no configs in configs/: fill in the form"
        self.query_one("#preview-title", Label).update(title)
        self.validate_form()
        self._show_line()

    @on(ConfigForm.Edited)
    def _form_edited(self) -> None:
        self.validate_form(debounce=True)

    def validate_form(self, debounce: bool = False) -> dict[str, str]:
        """Check the form now: inline errors, resolved preview, command line; schedule the estimate."""
        if self.draft is None:
            return {}
        texts = self.form.texts()
        errors = self.draft.errors(texts)
        inline, rest = split_errors(errors)
        self.form.show_errors({k: self.tidy(m) for k, m in inline.items()})
        self.query_one("#form-errors", Static).update("\n".join(f"✗ {self.tidy(line)}" for line in rest))
        preview = self.query_one("#config-preview", TextArea)
        command = self.query_one("#command-line", Static)
        if errors:
            preview.load_text("# fix these first:\n" + "\n".join(f"# {k}: {m}" for k, m in errors.items()))
            command.update("")
            self._show_estimate(["estimate: fix the highlighted values first"])
            return errors
        cfg = self.draft.build(texts)
        preview.load_text(cfg.to_yaml(comments=False))
        try:
            command.update("$ " + self.draft.command_line(texts))
        except Exception as exc:  # noqa: BLE001 - a new config has no command line until it is saved
            command.update(f"$ ({exc})")
        key = cfg.to_yaml(comments=False)
        if key != self._estimate_key:
            self._estimate_key = key
            self._show_estimate(["estimate: counting…"])
            if self._estimate_timer is not None:
                self._estimate_timer.stop()
                self._estimate_timer = None
            if debounce:  # while typing: estimate once the user pauses
                self._estimate_timer = self.set_timer(0.4, partial(self._estimate_worker, key, cfg))
            else:
                self._estimate_worker(key, cfg)
        return errors

    def valid_config(self):
        """The form's config, or None after showing why it is invalid (nothing is started)."""
        from ...core.errors import ForgeError

        if self.draft is None:
            self.notify("no config selected", severity="error")
            return None
        errors = self.validate_form()
        if not errors:
            try:
                return self.draft.build(self.form.texts())
            except ForgeError as exc:
                errors = {"(file)": str(exc)}
        self.show_view("setup")
        first = self.form.first_invalid()
        if first is not None:
            self.form.focus_field(first)
        key, message = next(iter(errors.items()))
        self.notify(f"not started: {key}: {message}" if key != "(file)" else f"not started: {message}",
                    severity="error", timeout=8)
        return None

    def tidy(self, text: str) -> str:
        """A message with workspace paths shown relative to it (and the home folder as ``~``)."""
        import os

        workspace = str(self.settings.workspace)
        text = text.replace(workspace + os.sep, "").replace(workspace, ".")
        home = os.path.expanduser("~")
        return text.replace(home + os.sep, "~" + os.sep) if home not in ("", "/") else text

    def on_estimate_ready(self, event: EstimateReady) -> None:
        if event.key != self._estimate_key:
            return
        if event.error:
            inline, _rest = split_errors(event.fields)
            if inline:
                self.form.show_errors({k: self.tidy(m) for k, m in inline.items()})
                self._show_estimate([f"✗ cannot estimate: {', '.join(inline)} (see above)"])
            else:
                self._show_estimate([f"✗ {self.tidy(event.error)}"])
        else:
            self._show_estimate(event.lines)

    def _show_estimate(self, lines: list[str]) -> None:
        self.estimate_lines = [line for line in lines if not line.startswith("estimate:")]
        self.query_one("#estimate", Static).update("\n".join(lines))

    def action_save_config(self) -> None:
        """Save the form as a new config in configs/."""
        from ..dialogs.ask import AskDialog

        if self.valid_config() is None:
            return
        configs = self.settings.configs_dir
        base = self.draft.path.stem + "-copy" if self.draft.path else "my-config"

        def check(name: str) -> str | None:
            if not name or "/" in name or name.startswith("."):
                return "type a file name such as my-run (saved as configs/my-run.yaml)"
            target = configs / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
            return f"{target.name} exists — choose another name" if target.exists() else None

        def answered(name: str | None) -> None:
            from ...core.errors import ForgeError

            if not name:
                return
            try:
                path = self.draft.save_as(configs / name, self.form.texts())
            except ForgeError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            self.notify(f"saved {rel_path(path, self.settings.workspace)}")
            self.draft = None
            self.load_draft(path)
            self.action_refresh()

        self.app.push_screen(AskDialog("Save as a new config", f"Name of the new file in {configs.name}/:",
                                       base, check), answered)

    # ------------------------------------------------------------------ run events
    def on_feed_ready(self, event: FeedReady) -> None:
        if event.run_id != self.run_id or self.feed is None:
            return
        records = []
        for item in self.feed.drain():
            self.view.apply_event(item)
            if isinstance(item, ev.Metrics):
                records.append(item.record())
            elif isinstance(item, ev.RunStarted):
                self.charts.reset(item.max_iterations)
                if item.resumed:
                    self._load_earlier_metrics(Path(item.run_dir))
            elif isinstance(item, ev.LogLine):
                self.log_line(item.level, item.message)
            elif isinstance(item, ev.MaxIterationsChanged):
                self.charts.set_max_iterations(item.max_iterations)
            self.engine_event_note(item)
        self.charts.add(records)
        self.status_dirty = True

    def _load_earlier_metrics(self, run_dir: Path) -> None:
        from ...core.runs import read_metrics

        records, _ = read_metrics(run_dir)
        self.charts.add(records)
        for rec in records:
            self.view.apply_record(rec)

    def on_run_ended(self, event: RunEnded) -> None:
        if event.run_id != self.run_id:
            return
        self.on_feed_ready(FeedReady(event.run_id))  # anything still in the feed first
        view = self.view
        if event.error:
            view.state, view.error = "failed", event.error
            self.log_line("error", event.error)
            self.notify(f"run did not start: {self.tidy(event.error)}", severity="error", timeout=15)
            inline, _rest = split_errors(event.fields)
            if inline and not self.quitting:
                self.form.show_errors({k: self.tidy(m) for k, m in inline.items()})
        elif event.result is not None and event.result.status == ev.FAILED:
            view.state, view.error = ev.FAILED, event.result.error or view.error
            self.notify(f"run failed: {view.error}", severity="error", timeout=15)
        self.pending = ""
        self.status_dirty = True
        self.action_refresh()

    def on_folder_read(self, event: FolderRead) -> None:
        view = self.view
        if view is None or view.source != "folder" or str(view.run_dir) != event.run_dir:
            return
        if event.reset:
            self.charts.reset(view.max_iterations)
            self.run_log.clear()
            self.view = view = RunView(run_dir=view.run_dir, name=view.name, source="folder",
                                       threshold=view.threshold)
        if event.info is not None:
            was_active = view.is_active
            view.apply_info(event.info, event.alive)
            if was_active and not view.is_active and view.state != "reading":
                self.notify(f"{view.name}: {view.state}" + (f" ({view.reason})" if view.reason else ""))
        for rec in event.records:
            view.apply_record(rec)
        for rec in event.logs:
            view.apply_log(rec)
            self.log_line(str(rec.get("level") or "info"), str(rec.get("message") or ""))
        self.charts.set_max_iterations(view.max_iterations)
        self.charts.add(event.records)
        if event.error:
            view.state, view.error = "unknown", event.error
            self.notify(event.error, severity="error", timeout=8)
        if event.done:
            self.pending = ""
        self.status_dirty = True
