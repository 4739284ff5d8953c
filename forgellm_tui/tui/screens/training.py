"""Training: pick and edit a config, see the estimate and the command line, start a run, and watch it
live (charts, status, log) with keyboard control. Two views share the screen: *setup* and *run*.

The screen composes the widgets, binds the keys and forwards keys and its workers' messages: the run
(starting, following, control, quitting) to :class:`~forgellm_tui.tui.controllers.training.TrainingController`,
the setup view to :class:`~forgellm_tui.tui.controllers.setup.SetupController`.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Label, OptionList, Static, TextArea

from ..controllers import quitting
from ..controllers.setup import SetupController
from ..controllers.training import TrainingController
from ..listing import list_configs
from ..messages import ListingLoaded, ResumeRun, ShowRun
from ..training_messages import DetachStarted, EstimateReady, FeedReady, FolderRead, RunEnded
from ..widgets.config_form import ConfigForm
from ..widgets.run_log import RunLog
from ..widgets.run_status import RunStatus
from ..widgets.samples_pane import SamplesPane
from ..widgets.training_charts import TrainingCharts
from .base import ForgeScreen
from .listing_worker import load_listing

STATUS_HZ = 4
"""Most status-panel redraws per second."""


def list_runs_quick(settings) -> list:
    from forgellm_tui.core.runs import list_runs

    return list_runs(settings, with_metrics=False)


class TrainingScreen(ForgeScreen):
    """Configure, start, watch and control training runs."""

    SCREEN_TITLE = "Training"
    # at 80 columns the footer drops the least important keys first and always keeps "? Keys" and
    # "q Quit"; the run keys are also listed in the line above the views
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
        Binding("l", "live", "Live", tooltip="Change the running run's settings between two steps."),
        Binding("f", "follow", "Follow", tooltip="Follow a run folder live (also headless runs)."),
        Binding("o", "open_checkpoints", "Open", tooltip="Open this run on the Checkpoints screen."),
        Binding("r", "refresh", "Refresh", show=False, tooltip="Read the configs and runs again."),
        Binding("c", "focus_configs", "Configs", show=False, tooltip="Move to the list of configs."),
        Binding("s", "toggle_samples", "Samples", tooltip="Show what the model says now in place of the log, or back."),
        Binding("left_square_bracket", "older_samples", "Older", show=False,
                tooltip="Samples of the sampling point before."),
        Binding("right_square_bracket", "newer_samples", "Newer", show=False,
                tooltip="Samples of the sampling point after."),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.controller = TrainingController(self)
        """The run shown on the run view, and its control."""
        self.setup = SetupController(self)
        """The config the setup view edits."""
        self.runs: list = []
        """Runs of the workspace (``core.runs.RunInfo``), for the follow picker."""
        self._auto_followed = False
        self._status_at = 0.0
        self._focus_memory: dict = {}
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
                    yield RunLog(id="run-log", classes="pane")
                    yield SamplesPane(id="run-samples", classes="pane")

    def on_mount(self) -> None:
        self.query_one("#config-list", OptionList).focus()
        self.query_one("#run-status", RunStatus).border_title = "status"
        self.run_log.border_title = "log"
        self.set_interval(1 / STATUS_HZ, self._tick)
        self.show_line()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def on_unmount(self) -> None:
        quitting.closing(self.controller)

    # ------------------------------------------------------------------ widgets
    @property
    def form(self) -> ConfigForm:
        return self.query_one("#config-form", ConfigForm)

    @property
    def run_log(self) -> RunLog:
        return self.query_one("#run-log", RunLog)

    @property
    def samples(self) -> SamplesPane:
        return self.query_one("#run-samples", SamplesPane)

    @property
    def charts(self) -> TrainingCharts:
        return self.query_one("#charts", TrainingCharts)

    @property
    def view(self):
        """The run the status panel shows (a ``RunView``; None before the first run)."""
        return self.controller.view

    def show_view(self, name: str) -> None:
        """``setup`` or ``run``; the focus goes back to where it was in that view."""
        switcher = self.query_one("#training-views", ContentSwitcher)
        target = f"{name}-view"
        if switcher.current != target:
            if self.focused is not None:
                self._focus_memory[switcher.current] = self.focused
            switcher.current = target
            default = self._run_pane() if name == "run" else self.query_one("#config-list")
            remembered = self._focus_memory.get(target)
            (remembered if remembered is not None and remembered.is_attached else default).focus()
        self.show_line()

    def _run_pane(self):
        """The pane below the status: the samples or the log (``s`` switches)."""
        return self.samples if self.query_one("#run-side").has_class("-samples") else self.run_log

    def action_toggle_samples(self) -> None:
        """Show the samples in place of the log (or the log again), on the run view."""
        side = self.query_one("#run-side")
        side.toggle_class("-samples")
        self.show_view("run")
        self._run_pane().focus()
        self._line = ""
        self.show_line()

    def action_older_samples(self) -> None:
        self._page_samples(-1)

    def action_newer_samples(self) -> None:
        self._page_samples(1)

    def _page_samples(self, step: int) -> None:
        if not self.query_one("#run-side").has_class("-samples"):
            self.action_toggle_samples()  # paging shows the pane first
        pane = self.samples
        if pane.iteration is None:
            self.notify("no samples yet: set sample_prompts in the config", severity="warning")
        elif not pane.page(step):
            self.notify("these are the " + ("earliest" if step < 0 else "newest") + " samples")

    def action_toggle_view(self) -> None:
        current = self.query_one("#training-views", ContentSwitcher).current
        self.show_view("setup" if current == "run-view" else "run")

    def action_focus_configs(self) -> None:
        self.show_view("setup")
        self.query_one("#config-list").focus()

    def show_line(self) -> None:
        """The view's keys, for the state the run is in (``p resume`` while paused), in 80 columns."""
        view = "run" if self.query_one("#training-views", ContentSwitcher).current == "run-view" else "setup"
        run = self.view
        if view == "setup":
            where = "" if run is None else f" ({run.state}{self._progress(run)})"
            text = f"setup · ^r start · ^d background · ^w save as · ^t run view{where}"
        else:
            text = f"run · {self._run_keys(run)}{self._samples_key()} · ^t setup"
        if text != self._line:
            self._line = text
            self.query_one("#training-line", Label).update(text, layout=False)

    def _samples_key(self) -> str:
        """`` · s samples`` once the run has samples (`` · s log`` while they are shown)."""
        if self.query_one("#run-side").has_class("-samples"):
            return " · s log"
        return " · s samples" if self.samples.records else ""

    @staticmethod
    def _progress(run) -> str:
        return f" {100 * run.iteration / run.max_iterations:.0f}%" if run.max_iterations and run.is_active else ""

    def _run_keys(self, run) -> str:
        if self.controller.pending:
            return self.controller.pending
        if run is not None and run.source == "app" and self.controller.run_active_here():
            pause = "p resume" if run.state == "paused" else "p pause"
            return f"{pause} · x stop · k ckpt · e extend · l live"
        if run is not None and run.is_active:
            pause = "p resume" if run.state == "paused" else "p pause"
            return f"{pause} · x stop · k ckpt · e extend · l live"
        if run is not None and run.run_dir is not None:
            return "e continue · o open in Checkpoints · f follow"
        return "^r start · f follow a run folder"

    def _tick(self) -> None:
        """Redraw the status a few times a second at most: when something changed, and once a second
        while a run is active (elapsed time and ETA)."""
        ctl, now = self.controller, time.monotonic()
        clock = self.view is not None and self.view.is_active and now - self._status_at >= 1.0
        if not (ctl.status_dirty or clock) or not self.is_current:
            return
        ctl.status_dirty, self._status_at = False, now
        self.query_one("#run-status", RunStatus).show(self.view, time.time(), ctl.pending)
        self.show_line()

    # ------------------------------------------------------------------ configs and runs
    def action_refresh(self) -> None:
        load_listing(self, "configs", partial(list_configs, self.settings.configs_dir))
        load_listing(self, "runs", partial(list_runs_quick, self.settings))

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        if event.name == "configs":
            self.setup.show_configs(event.rows)
        elif event.name == "runs":
            self.runs = event.rows
            active = [r for r in self.runs if r.is_active]
            if active and self.view is None and not self._auto_followed:
                self._auto_followed = True  # a run started elsewhere is going on: show it
                self.controller.follow_run(active[0].path)

    @on(OptionList.OptionHighlighted, "#config-list")
    def _config_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.setup.config_highlighted(Path(event.option.id))

    def on_config_form_edited(self, _event: ConfigForm.Edited) -> None:
        self.setup.validate_form(debounce=True)

    def on_estimate_ready(self, event: EstimateReady) -> None:
        self.setup.estimate_ready(event)

    def action_save_config(self) -> None:
        """Save the form as a new config in configs/."""
        self.setup.save_config()

    # ------------------------------------------------------------------ run keys
    def action_start(self) -> None:
        """Start a run with the form's settings, trained in this app."""
        self.controller.start()

    def action_start_detached(self) -> None:
        """Start the run in a background process (``forgellm-tui train --detach``)."""
        self.controller.start_detached()

    def action_pause(self) -> None:
        """Pause or resume the run trained in this app."""
        self.controller.pause()

    def action_stop(self) -> None:
        """Stop the run after asking; it saves a checkpoint first."""
        self.controller.stop()

    def action_checkpoint(self) -> None:
        """Save a checkpoint after the current step."""
        self.controller.checkpoint()

    def action_extend(self) -> None:
        """Add iterations: to the running run, or continue an ended one (resume)."""
        self.controller.extend()

    def action_live(self) -> None:
        """Change the running run's settings between two steps (a dialog with their current values)."""
        self.controller.live()

    def action_follow(self) -> None:
        """Follow a run folder live (also runs started with forgellm-tui train)."""
        self.controller.follow()

    async def action_open_checkpoints(self) -> None:
        """Show this run on the Checkpoints screen (it selects the run's row once it has read its runs)."""
        if self.view is None or self.view.run_dir is None:
            self.notify("no run yet", severity="warning")
            return
        await self.app.switch_mode("checkpoints")
        self.app.screen.post_message(ShowRun(str(Path(self.view.run_dir).resolve())))

    # ------------------------------------------------------------------ what workers and screens report
    def on_feed_ready(self, event: FeedReady) -> None:
        self.controller.feed_ready(event)

    def on_run_ended(self, event: RunEnded) -> None:
        self.controller.run_ended(event)

    def on_folder_read(self, event: FolderRead) -> None:
        self.controller.folder_read(event)

    def on_detach_started(self, event: DetachStarted) -> None:
        self.controller.detach_started(event)

    def on_resume_run(self, event: ResumeRun) -> None:
        """The Checkpoints screen (or the resume offer) asks to continue a run."""
        event.stop()
        self.controller.resume_run(Path(event.run_dir))

    # ------------------------------------------------------------------ asked by the app
    def confirm_quit(self, others: list[str]) -> bool:
        """The app quits: ask what happens to the run (False: no run is active, the app's question applies)."""
        return quitting.confirm_quit(self.controller, others)

    def on_hangup(self, reason: str) -> threading.Event | None:
        """The terminal went away: stop a run trained here (with a checkpoint); returns its done event."""
        return quitting.on_hangup(self.controller, reason)
