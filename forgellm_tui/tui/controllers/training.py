"""The run the Training screen shows and controls: a run trained in this app (a thread worker fed by the
engine's events) or a run folder followed from disk (also headless runs). The controller owns the run
view, the control object, the event feed, the run id and the following state; the screen forwards its
keys and its workers' messages here.
"""

from __future__ import annotations

import threading
from pathlib import Path

from forgellm_tui.core import events as ev
from forgellm_tui.core.runs import stop_cause
from ..dialogs import ConfirmDialog
from ..dialogs.ask import AskDialog, positive_int
from ..fields import POSITIVE_CHARS
from ..run_view import RunView
from ..terminal_notify import ring
from ..training_messages import EventFeed, FeedReady, FolderRead, RunEnded
from . import workers
from .run_panes import EngineBatch, RunPanes

STOP_USER = "stopped by user"


class TrainingController:
    """Starts, follows and controls runs for ``screen`` (a ``TrainingScreen``)."""

    def __init__(self, screen) -> None:
        self.screen = screen
        self.panes = RunPanes(screen)
        self.view: RunView | None = None
        """What the status panel shows: the run trained here or followed (None before the first)."""
        self.control = None
        """The ``core.training.control.TrainingControl`` of the run trained here."""
        self.feed: EventFeed | None = None
        self.run_done: threading.Event | None = None
        self.train_worker = None
        self.follow_stop: threading.Event | None = None
        self.run_id = 0
        """Counts the runs shown; messages of an earlier run are ignored."""
        self.pending = ""
        """A request the engine has not confirmed yet (``pausing after this step…``)."""
        self.status_dirty = True
        self.quitting = False
        self.fault_hook = None
        """``fault_hook(iteration)`` passed to the engine (tests inject failures with it)."""

    # ------------------------------------------------------------------ state
    def run_active_here(self) -> bool:
        """A run trains in this app's thread now."""
        return self.run_done is not None and not self.run_done.is_set()

    def followed_active(self) -> bool:
        """A run of another process is followed and still active."""
        return self.view is not None and self.view.source == "folder" and self.view.is_active

    def refuse_if_training(self) -> bool:
        if self.run_active_here():
            self.screen.notify("a run is training in this app — stop it first (x)", severity="warning")
            return True
        return False

    def _show_new_run(self, view: RunView) -> None:
        self.run_id += 1
        self.view, self.pending = view, ""
        self.panes.charts.reset(None)
        self.panes.samples.reset()

    # ------------------------------------------------------------------ starting
    def start(self) -> None:
        """Start a run with the form's settings, trained in this app."""
        if self.refuse_if_training():
            return
        cfg = self.screen.setup.valid_config()
        if cfg is None:
            return
        if cfg.distributed:  # its ranks are processes started by mlx.launch, not a thread of this app
            self.screen.notify("a distributed run trains in its own processes: starting it in the background "
                               "(mlx.launch) and following it here")
            self.start_detached()
            return
        self.begin_run(cfg)

    def begin_run(self, cfg, resume_from: Path | None = None) -> None:
        from forgellm_tui.core.training import TrainingControl

        self.stop_following()
        self._show_new_run(RunView(source="app", state="starting", name=cfg.name or "",
                                   threshold=cfg.overfitting_threshold))
        self.feed, self.control, self.run_done = EventFeed(), TrainingControl(), threading.Event()
        self.screen.show_view("run")
        self.panes.reset_log()  # the engine's first lines (what it trains, on what) follow at once
        self.train_worker = workers.start(self.screen, "train", self.run_id, cfg, self.feed, self.control,
                                          self.run_done, resume_from, self.fault_hook)
        self.screen.show_view("run")
        self.status_dirty = True

    def start_detached(self) -> None:
        """Start the run in a background process (``forgellm-tui train --detach``)."""
        cfg = self.screen.setup.valid_config()
        if cfg is None:
            return
        self.screen.notify("starting a background run…")
        workers.start(self.screen, "detach", cfg, self.screen.settings)

    def detach_started(self, event) -> None:
        if event.error:
            self.screen.notify(f"background run did not start: {event.error}", severity="error", timeout=10)
            return
        self.screen.notify(f"background run started: {Path(event.run_dir).name}")
        self.follow_run(Path(event.run_dir))

    def resume_run(self, run_dir: Path, extra_iterations: int = 0) -> None:
        """Continue ``run_dir`` exactly from its newest checkpoint (optionally ``extra_iterations`` longer)."""
        from forgellm_tui.core.errors import ForgeError
        from forgellm_tui.core.training import load_run_config

        if self.refuse_if_training():
            return
        overrides = None
        if extra_iterations:
            current = (self.view.max_iterations if self.view and self.view.run_dir == run_dir else None) or 0
            overrides = {"max_iterations": max(current, _run_iteration(run_dir)) + extra_iterations,
                         "epochs": None}
        try:
            cfg = load_run_config(run_dir, overrides, self.screen.settings)
        except ForgeError as exc:
            self.screen.notify(f"cannot resume: {exc}", severity="error", timeout=10)
            return
        self.begin_run(cfg, resume_from=run_dir)

    # ------------------------------------------------------------------ control keys
    def pause(self) -> None:
        """Pause or resume the run (trained here, or followed: asked through its folder)."""
        if self.followed_active():
            paused = self.view.state == "paused"
            if self._ask_folder("resume" if paused else "pause"):
                self.pending = "resuming…" if paused else "pausing after this step…"
            return
        if not self._controllable("pause"):
            return
        if self.control.paused:
            self.control.resume()
            self.pending = "resuming…"
        else:
            self.control.pause()
            self.pending = "pausing after this step…"
        self.status_dirty = True

    def stop(self) -> None:
        """Stop the run after asking; it saves a checkpoint first."""
        view = self.view
        if view is None or not view.is_active:
            self.screen.notify("no active run to stop", severity="warning")
            return
        where = "in another process" if view.source == "folder" else "in this app"
        question = (f"Stop {view.name or 'the run'} ({where}) at iteration {view.iteration}?\n"
                    "It finishes the current step and saves a checkpoint; resume continues exactly from there.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_current(STOP_USER, stop_cause.USER)

        self.screen.app.push_screen(ConfirmDialog("Stop the run?", question, yes="Stop", no="Keep training"),
                                    answered)

    def stop_current(self, reason: str, cause: str) -> None:
        if self.run_active_here():
            self.control.stop(reason, cause)
            self.pending = "stopping: saving a checkpoint…"
        elif self.followed_active():
            self.stop_folder_run()
        self.status_dirty = True

    def stop_folder_run(self) -> bool:
        from forgellm_tui.core.runs import request_stop

        pid = request_stop(self.view.run_dir)
        if pid is None:
            self.screen.notify("the run's process is not on this machine or is gone", severity="error")
            return False
        self.pending = "stopping: saving a checkpoint…"
        self.screen.notify(f"asked process {pid} to stop (it saves a checkpoint)")
        return True

    def checkpoint(self) -> None:
        """Save a checkpoint after the current step."""
        if self.followed_active():
            if self._ask_folder("save"):
                self.screen.notify("saving a checkpoint after this step…")
            return
        if self._controllable("save a checkpoint"):
            self.control.save_now()
            self.screen.notify("saving a checkpoint after this step…")

    def extend(self) -> None:
        """Add iterations: to the running run, or continue an ended one (resume)."""
        view = self.view
        if view is None or view.run_dir is None:
            self.screen.notify("no run to extend", severity="warning")
            return
        if view.is_active and not self.followed_active() and not self._controllable("extend"):
            return
        total = view.max_iterations or 0
        default = str(max(total // 2, 10))
        prompt = (f"{view.name} has {total:,} iterations. Add how many?" if view.is_active else
                  f"{view.name} ended at iteration {view.iteration:,}. Continue it for how many more iterations? "
                  "(resumes exactly from its newest checkpoint)")

        def answered(text: str | None) -> None:
            if not text:
                return
            n = int(text.replace("_", "").replace(",", ""))
            if self.run_active_here():
                self.control.extend(n)
                self.screen.notify(f"adding {n:,} iterations…")
            elif self.followed_active():
                if self._ask_folder("set", {"max_iterations": total + n}):
                    self.screen.notify(f"adding {n:,} iterations…")
            else:
                self.resume_run(view.run_dir, extra_iterations=n)

        self.screen.app.push_screen(AskDialog("Extend the run", prompt, default, positive_int,
                                              restrict=POSITIVE_CHARS), answered)

    def live(self) -> None:
        """Change the running run's live settings (learning-rate scale, report/eval/save steps, early
        stopping, length) in a dialog showing their current values."""
        from forgellm_tui.core.training import folder_values
        from ..dialogs.live import LiveSettingsDialog

        view = self.view
        here = self.run_active_here()
        if not (here or self.followed_active()):
            self.screen.notify("no running run to change: start one (ctrl+r) or follow one (f)", severity="warning")
            return
        if view.run_dir is None:
            self.screen.notify("the run is still starting: try again in a moment", severity="warning")
            return
        try:
            values = folder_values(view.run_dir)
        except Exception as exc:  # noqa: BLE001 - a damaged config.yaml: say so instead of failing the key
            self.screen.notify(f"cannot read the run's settings: {exc}", severity="error")
            return

        def answered(changes: dict | None) -> None:
            if not changes:
                return
            if self.run_active_here():
                self.control.change(changes)
            elif not self._ask_folder("set", changes):
                return
            self.screen.notify("changing " + ", ".join(f"{k} → {v}" for k, v in changes.items()) + " after this step")

        self.screen.app.push_screen(LiveSettingsDialog(view.name or view.run_dir.name, values), answered)

    def _ask_folder(self, action: str, values: dict | None = None) -> bool:
        """Leave a request in the followed run's folder (its loop takes it between steps and logs it)."""
        from forgellm_tui.core.errors import ForgeError
        from forgellm_tui.core.runs import requests

        try:
            requests.send(self.view.run_dir, action, values)
        except (ForgeError, OSError) as exc:
            self.screen.notify(f"cannot ask the run: {exc}", severity="error")
            return False
        self.status_dirty = True
        return True

    def _controllable(self, what: str) -> bool:
        if self.run_active_here():
            return True
        if self.followed_active():
            self.screen.notify(f"cannot {what} a run of another process from here",
                               severity="warning")
        else:
            self.screen.notify(f"no run to {what}: start one (ctrl+r)", severity="warning")
        return False

    # ------------------------------------------------------------------ following a folder
    def follow(self) -> None:
        """Pick a run folder to follow live (also runs started with forgellm-tui train)."""
        from ..dialogs.run_picker import RunPickerDialog

        if self.refuse_if_training():
            return

        def picked(path: Path | None) -> None:
            if path is not None:
                self.follow_run(path)

        self.screen.app.push_screen(RunPickerDialog(self.screen.runs, self.screen.settings.workspace), picked)

    def follow_run(self, run_dir: Path) -> None:
        """Show ``run_dir`` and keep reading its files until it ends."""
        from ..dialogs.run_picker import run_problem

        run_dir = Path(run_dir).resolve()
        problem = run_problem(run_dir)
        if problem:
            self.screen.notify(problem, severity="error", timeout=8)
            return
        if self.refuse_if_training():
            return
        self.stop_following()
        self._show_new_run(RunView(run_dir=run_dir, name=run_dir.name, source="folder", state="reading",
                                   threshold=_folder_threshold(run_dir)))
        self.panes.reset_log()
        self.follow_stop = threading.Event()
        workers.start(self.screen, "follow", run_dir, self.follow_stop)
        self.screen.show_view("run")
        self.status_dirty = True

    def stop_following(self) -> None:
        if self.follow_stop is not None:
            self.follow_stop.set()
            self.follow_stop = None

    # ------------------------------------------------------------------ what the workers report
    def feed_ready(self, event: FeedReady) -> None:
        """Engine events of the run trained here: the run view first, then charts, log and notes."""
        if event.run_id != self.run_id or self.feed is None:
            return
        batch = EngineBatch(self)
        for item in self.feed.drain():
            self.view.apply_event(item)
            ev.dispatch(item, batch)
            ring(self.screen.app, item, Path(self.view.run_dir).name if self.view.run_dir else "")
        if batch.logged and self.view.run_dir is not None:
            self.panes.tail_log(self.view.run_dir)
        self.panes.charts.add(batch.records)
        self.status_dirty = True

    def run_ended(self, event: RunEnded) -> None:
        from ..config_draft import split_errors
        from ..heap import release_heap

        release_heap()  # the run's model was frozen at RunStarted: let it go
        if event.run_id != self.run_id:
            return
        self.feed_ready(FeedReady(event.run_id))  # anything still in the feed first
        view, screen, tidy = self.view, self.screen, self.screen.setup.tidy
        if event.error:
            view.state, view.error = "failed", event.error
            self.panes.log_line("error", event.error)
            screen.notify(f"run did not start: {tidy(event.error)}", severity="error", timeout=15)
            inline, _rest = split_errors(event.fields)
            if inline and not self.quitting:
                screen.form.show_errors({k: tidy(m) for k, m in inline.items()})
        elif event.result is not None and event.result.status == ev.FAILED:
            view.state, view.error = ev.FAILED, event.result.error or view.error
            screen.notify(f"run failed: {view.error}", severity="error", timeout=15)
        self.pending = ""
        self.status_dirty = True
        screen.action_refresh()

    def folder_read(self, event: FolderRead) -> None:
        """New data of the followed run folder."""
        view = self.view
        if view is None or view.source != "folder" or str(view.run_dir) != event.run_dir:
            return
        if event.reset:
            self.panes.charts.reset(view.max_iterations)
            self.view = view = RunView(run_dir=view.run_dir, name=view.name, source="folder",
                                       threshold=view.threshold)
        if event.info is not None:
            was_active = view.is_active
            view.apply_info(event.info, event.alive)
            if was_active and not view.is_active and view.state != "reading":
                self.screen.notify(f"{view.name}: {view.state}" + (f" ({view.reason})" if view.reason else ""))
        for rec in event.records:
            view.apply_record(rec)
        for rec in event.logs:
            self.panes.log_record(rec)
        if event.samples_reset:
            self.panes.samples.reset(event.samples)
        else:
            self.panes.samples.add(event.samples)
        self.panes.charts.set_max_iterations(view.max_iterations)
        if event.info is not None:
            self.panes.charts.set_changes([c.get("iteration") for c in event.info.get("changes") or []])
        self.panes.charts.add(event.records)
        if event.error:
            view.state, view.error = "unknown", event.error
            self.screen.notify(event.error, severity="error", timeout=8)
        if event.done:
            self.pending = ""
        self.status_dirty = True


def _run_iteration(run_dir: Path) -> int:
    from forgellm_tui.core.runs import read_run

    info = read_run(run_dir, with_metrics=False)
    return max([info.iteration, *info.checkpoints]) if info else 0


def _folder_threshold(run_dir: Path) -> float:
    """The followed run's ``overfitting_threshold`` (for the status panel's warning)."""
    from forgellm_tui.core.runs import read_run_config

    try:
        value = read_run_config(run_dir).get("overfitting_threshold", 0.3)
    except Exception:  # noqa: BLE001 - a broken config.yaml only loses the warning's threshold
        return 0.3
    return float(value) if isinstance(value, (int, float)) else 0.3
