"""Controlling runs from the Training screen: start (here or in the background), pause, stop, save,
extend, resume, follow a folder, and what quitting or a lost terminal does to a run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

from ..dialogs import ConfirmDialog
from ..dialogs.ask import AskDialog, ChoiceDialog, positive_int
from ..fields import POSITIVE_CHARS
from ..hangup import CLOSED_REASON, QUIT_REASON
from ..run_view import RunView
from ..training_messages import EventFeed
from ..widgets.training_charts import TrainingCharts

STOP_USER = "stopped by user"


class TrainingActions:
    """Mixin for :class:`~forgellm_tui.tui.screens.training.TrainingScreen` (key actions and run state)."""

    view: RunView | None = None
    control = None
    feed: EventFeed | None = None
    run_done: threading.Event | None = None
    train_worker = None
    follow_stop: threading.Event | None = None
    run_id = 0
    pending = ""
    quitting = False

    # ------------------------------------------------------------------ state
    def run_active_here(self) -> bool:
        """A run trains in this app's thread now."""
        return self.run_done is not None and not self.run_done.is_set()

    def followed_active(self) -> bool:
        """A run of another process is followed and still active."""
        return self.view is not None and self.view.source == "folder" and self.view.is_active

    def _refuse_if_training(self) -> bool:
        if self.run_active_here():
            self.notify("a run is training in this app — stop it first (x)", severity="warning")
            return True
        return False

    # ------------------------------------------------------------------ starting
    def action_start(self) -> None:
        """Start a run with the form's settings, trained in this app."""
        if self._refuse_if_training():
            return
        cfg = self.valid_config()
        if cfg is None:
            return
        if cfg.distributed:  # its ranks are processes started by mlx.launch, not a thread of this app
            self.notify("a distributed run trains in its own processes: starting it in the background (mlx.launch) "
                        "and following it here")
            self.action_start_detached()
            return
        self.begin_run(cfg)

    def begin_run(self, cfg, resume_from: Path | None = None) -> None:
        from forgellm_tui.core.training.control import TrainingControl

        self.stop_following()
        self.run_id += 1
        self.feed, self.control, self.run_done = EventFeed(), TrainingControl(), threading.Event()
        self.view = RunView(source="app", state="starting", name=cfg.name or "",
                            threshold=cfg.overfitting_threshold)
        self.pending = ""
        self.charts.reset(None)
        self.show_view("run")
        self.reset_log()  # the engine's first lines (what it trains, on what) follow at once
        self.train_worker = self._train_worker(self.run_id, cfg, self.feed, self.control, self.run_done, resume_from)
        self.show_view("run")
        self.status_dirty = True

    def action_start_detached(self) -> None:
        """Start the run in a background process (``forgellm-tui train --detach``)."""
        if self.valid_config() is None:
            return
        args = self.draft.command_args(self.form.texts())
        self.notify("starting a background run…")
        self._detach_worker(self.settings.workspace, args)

    def on_detach_started(self, event) -> None:
        if event.error:
            self.notify(f"background run did not start: {event.error}", severity="error", timeout=10)
            return
        self.notify(f"background run started: {Path(event.run_dir).name}")
        self.follow_run(Path(event.run_dir))

    def on_resume_run(self, event) -> None:
        """The Checkpoints screen (or the resume offer) asks to continue a run."""
        event.stop()
        self.resume_run(Path(event.run_dir))

    def resume_run(self, run_dir: Path, extra_iterations: int = 0) -> None:
        """Continue ``run_dir`` exactly from its newest checkpoint (optionally ``extra_iterations`` longer)."""
        from forgellm_tui.core.errors import ForgeError
        from forgellm_tui.core.training.engine import load_run_config

        if self._refuse_if_training():
            return
        overrides = None
        if extra_iterations:
            current = (self.view.max_iterations if self.view and self.view.run_dir == run_dir else None) or 0
            overrides = {"max_iterations": max(current, self._run_iteration(run_dir)) + extra_iterations,
                         "epochs": None}
        try:
            cfg = load_run_config(run_dir, overrides, self.settings)
        except ForgeError as exc:
            self.notify(f"cannot resume: {exc}", severity="error", timeout=10)
            return
        self.begin_run(cfg, resume_from=run_dir)

    @staticmethod
    def _run_iteration(run_dir: Path) -> int:
        from forgellm_tui.core.runs.reader import read_run

        info = read_run(run_dir, with_metrics=False)
        return max([info.iteration, *info.checkpoints]) if info else 0

    # ------------------------------------------------------------------ control keys
    def action_pause(self) -> None:
        """Pause or resume the run trained in this app."""
        if not self._controllable("pause"):
            return
        if self.control.paused:
            self.control.resume()
            self.pending = "resuming…"
        else:
            self.control.pause()
            self.pending = "pausing after this step…"
        self.status_dirty = True

    def action_stop(self) -> None:
        """Stop the run after asking; it saves a checkpoint first."""
        view = self.view
        if view is None or not view.is_active:
            self.notify("no active run to stop", severity="warning")
            return
        where = "in another process" if view.source == "folder" else "in this app"
        question = (f"Stop {view.name or 'the run'} ({where}) at iteration {view.iteration}?\n"
                    "It finishes the current step and saves a checkpoint; resume continues exactly from there.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._stop_current(STOP_USER)

        self.app.push_screen(ConfirmDialog("Stop the run?", question, yes="Stop", no="Keep training"), answered)

    def _stop_current(self, reason: str) -> None:
        if self.run_active_here():
            self.control.stop(reason)
            self.pending = "stopping: saving a checkpoint…"
        elif self.followed_active():
            self._signal_folder_run(signal.SIGTERM)
        self.status_dirty = True

    def _signal_folder_run(self, signum: int) -> bool:
        from forgellm_tui.core.runs.reader import process_alive, read_run_json

        info = read_run_json(self.view.run_dir) or {}
        pid = info.get("pid")
        if not process_alive(pid, info.get("host")):
            self.notify("the run's process is not on this machine or is gone", severity="error")
            return False
        os.kill(pid, signum)
        self.pending = "stopping: saving a checkpoint…"
        self.notify(f"asked process {pid} to stop (it saves a checkpoint)")
        return True

    def action_checkpoint(self) -> None:
        """Save a checkpoint after the current step."""
        if self._controllable("save a checkpoint"):
            self.control.save_now()
            self.notify("saving a checkpoint after this step…")

    def action_extend(self) -> None:
        """Add iterations: to the running run, or continue an ended one (resume)."""
        view = self.view
        if view is None or view.run_dir is None:
            self.notify("no run to extend", severity="warning")
            return
        if view.is_active and not self._controllable("extend"):
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
                self.notify(f"adding {n:,} iterations…")
            else:
                self.resume_run(view.run_dir, extra_iterations=n)

        self.app.push_screen(AskDialog("Extend the run", prompt, default, positive_int, restrict=POSITIVE_CHARS),
                             answered)

    def _controllable(self, what: str) -> bool:
        if self.run_active_here():
            return True
        if self.followed_active():
            self.notify(f"cannot {what} a run of another process from here (only stop it, x)", severity="warning")
        else:
            self.notify(f"no run to {what}: start one (ctrl+r)", severity="warning")
        return False

    async def action_open_checkpoints(self) -> None:
        """Show this run on the Checkpoints screen."""
        if self.view is None or self.view.run_dir is None:
            self.notify("no run yet", severity="warning")
            return
        target = Path(self.view.run_dir).resolve()
        await self.app.switch_mode("checkpoints")
        screen = self.app.screen
        for _ in range(50):  # the screen reads its runs in a thread: wait for our row
            tables = screen.query("#ckpt-runs")
            keys = [Path(str(key.value)).resolve() for key in tables.first().rows] if tables else []
            if target in keys:
                tables.first().move_cursor(row=keys.index(target))
                tables.first().focus()
                return
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------------ following a folder
    def action_follow(self) -> None:
        """Follow a run folder live (also runs started with forgellm-tui train)."""
        from ..dialogs.run_picker import RunPickerDialog

        if self._refuse_if_training():
            return

        def picked(path: Path | None) -> None:
            if path is not None:
                self.follow_run(path)

        self.app.push_screen(RunPickerDialog(self.runs, self.settings.workspace), picked)

    def follow_run(self, run_dir: Path) -> None:
        """Show ``run_dir`` and keep reading its files until it ends."""
        from ..dialogs.run_picker import run_problem

        run_dir = Path(run_dir).resolve()
        problem = run_problem(run_dir)
        if problem:
            self.notify(problem, severity="error", timeout=8)
            return
        if self._refuse_if_training():
            return
        self.stop_following()
        self.run_id += 1
        self.view = RunView(run_dir=run_dir, name=run_dir.name, source="folder", state="reading")
        self.view.threshold = self._folder_threshold(run_dir)
        self.pending = ""
        self.charts.reset(None)
        self.reset_log()
        self.follow_stop = threading.Event()
        self._follow_worker(run_dir, self.follow_stop)
        self.show_view("run")
        self.status_dirty = True

    @staticmethod
    def _folder_threshold(run_dir: Path) -> float:
        from forgellm_tui.core.runs.lookup import read_run_config

        try:
            value = read_run_config(run_dir).get("overfitting_threshold", 0.3)
        except Exception:  # noqa: BLE001 - a broken config.yaml only loses the warning's threshold
            return 0.3
        return float(value) if isinstance(value, (int, float)) else 0.3

    def stop_following(self) -> None:
        if self.follow_stop is not None:
            self.follow_stop.set()
            self.follow_stop = None

    # ------------------------------------------------------------------ quitting and lost terminals
    def confirm_quit(self, others: list[str]) -> bool:
        """Called by the app's quit: ask what happens to the run (never kill it silently).

        Returns False when no run is active (the app's own quit question applies)."""
        view = self.view
        if self.quitting:
            self.notify("quitting: waiting for the checkpoint to be saved…")
            return True
        if not self.run_active_here() and not self.followed_active():
            return False
        also = f"\nAlso running: {', '.join(others)} (stopped when the app quits)." if others else ""
        if self.run_active_here():
            body = (f"{view.name or 'A run'} is training in this app (iteration {view.iteration:,}"
                    f"{f' of {view.max_iterations:,}' if view.max_iterations else ''}).\nQuitting stops it "
                    "after the current step and saves a checkpoint; resume it later exactly from there." + also)
            choices = [("y", "Yes, stop, save and quit", "stop"), ("n", "No, stay", "stay")]
        else:
            body = (f"{view.name} is training in another process (pid {view.pid}). It can keep running in the "
                    "background, or stop now with a checkpoint." + also)
            choices = [("k", "Keep it running, quit", "keep"), ("s", "Stop it and quit", "stop"),
                       ("n", "No, stay", "stay")]

        def answered(choice: str | None) -> None:
            if choice == "keep":
                self.app.exit(0)
            elif choice == "stop" and self.run_active_here():
                self.quitting = True
                self._stop_current(QUIT_REASON)
                self.notify("stopping: saving a checkpoint, then quitting…", timeout=30)
                self.run_worker(self._exit_when_saved(), group="quit", exit_on_error=False)
            elif choice == "stop":
                if self.followed_active():
                    self._signal_folder_run(signal.SIGTERM)
                self.app.exit(0)

        default = "stop" if self.run_active_here() else "keep"  # Enter quits; nothing is lost either way
        self.app.push_screen(ChoiceDialog("Quit?", body, choices, default=default), answered)
        return True

    async def _exit_when_saved(self) -> None:
        while self.run_done is not None and not self.run_done.is_set():
            await asyncio.sleep(0.1)
        self.app.exit(0)

    def on_hangup(self, reason: str) -> threading.Event | None:
        """The terminal went away: stop a run trained here (with a checkpoint); returns its done event."""
        if not self.run_active_here():
            return None
        self.control.stop(reason)
        return self.run_done

    def on_unmount(self) -> None:
        """Never leave a run training with nobody to see it: the app is closing."""
        self.stop_following()
        if self.run_active_here() and not self.control.stop_requested:
            self.control.stop(CLOSED_REASON)

    # ------------------------------------------------------------------ helpers for the screen
    @property
    def charts(self) -> TrainingCharts:
        return self.query_one("#charts", TrainingCharts)
