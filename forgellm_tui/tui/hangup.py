"""When the terminal goes away (SIGHUP, e.g. an SSH drop) during a run trained in the app.

The handler asks every screen that owns a run (``on_hangup(reason)``) to stop it: the engine finishes
the step, saves a checkpoint and writes ``stopped`` with the reason and ``stop_cause: hangup`` into
run.json. The app then exits; a watchdog thread makes sure the process ends once the runs are saved,
even when writing to the vanished terminal blocks Textual's shutdown. On the next start in that
workspace :func:`hangup_runs` finds such runs, and those stopped only because the user quit the app
or the app closed, and the app offers to resume them.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from forgellm_tui.core import fsio

HANGUP_REASON = "terminal closed (SIGHUP)"
QUIT_REASON = "stopped by user (quit the app)"
"""A run trained in the app, stopped because the user quit the app (not because of the run itself)."""
CLOSED_REASON = "the app closed (resume continues from its checkpoint)"
"""A run trained in the app when the app closed without asking (an error, the window closed)."""
GRACE_S = 10.0
"""How long the app may take to exit normally after its runs are saved."""
DISMISSED = ".resume-offer-dismissed"
"""File in a run folder: the user said "don't ask again" about resuming it."""


class HangupGuard:
    """Installs the SIGHUP handler for ``app`` (main thread only) and restores the old one."""

    def __init__(self, app) -> None:
        self.app = app
        self._previous = None
        self._loop = None
        self.triggered = threading.Event()

    def install(self) -> None:
        import asyncio

        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
            return
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGHUP, self._handle)

    def uninstall(self) -> None:
        if self._previous is not None:
            try:
                signal.signal(signal.SIGHUP, self._previous)
            except ValueError:
                pass
            self._previous = None

    def _handle(self, _signum, _frame) -> None:
        if self.triggered.is_set():
            return
        self.triggered.set()
        waits = [done for done in (owner.on_hangup(HANGUP_REASON) for owner in self._run_owners()) if done]
        threading.Thread(target=_exit_after, args=(waits,), name="forgellm-hangup", daemon=True).start()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.app.exit, 0)

    def _run_owners(self) -> list:
        owners = []
        for worker in list(self.app.workers):
            node = getattr(worker, "node", None)
            if callable(getattr(node, "on_hangup", None)) and node not in owners:
                owners.append(node)
        return owners


def _exit_after(waits: list[threading.Event]) -> None:
    """End the process once every run is saved, if Textual's own exit has not done so by then."""
    for done in waits:
        done.wait()
    threading.Event().wait(GRACE_S)
    from forgellm_tui.core.runtime import backend as runtime

    runtime.shutdown_mlx()
    os._exit(0)


def hangup_runs(settings) -> list:
    """Runs stopped for a reason outside the run, with a checkpoint, newest first: the terminal went away
    (SIGHUP, also of a headless run), the app closed, or the user quit the app while it trained. A run
    stopped on purpose (x, SIGTERM, Ctrl-C of a headless run) is not offered again."""
    from forgellm_tui.core.runs import latest_checkpoint, list_runs, stop_cause as causes

    found = []
    try:
        runs = list_runs(settings, with_metrics=False)
    except OSError:
        return []
    for run in runs:
        if run.status != "stopped" or run.stop_cause not in causes.RESUME_OFFERED:
            continue
        if (run.path / DISMISSED).exists() or latest_checkpoint(run.path) is None:
            continue
        found.append(run)
    return found


def dismiss(run_dir: Path) -> None:
    """Do not offer to resume ``run_dir`` again."""
    fsio.atomic_write_text(Path(run_dir) / DISMISSED, "the resume offer was dismissed in the app\n")
