"""What quitting, a closing app or a lost terminal does to the run the Training screen shows: ask
(never kill a run silently), stop a run trained here with a checkpoint, or leave a background run going.
"""

from __future__ import annotations

import asyncio
import threading

from forgellm_tui.core.runs import stop_cause

from ..dialogs.ask import ChoiceDialog
from ..hangup import CLOSED_REASON, QUIT_REASON


def confirm_quit(ctl, others: list[str]) -> bool:
    """Called by the app's quit: ask what happens to the run. ``others``: other work quitting stops.

    Returns False when no run is active (the app's own quit question applies)."""
    view, screen = ctl.view, ctl.screen
    if ctl.quitting:
        screen.notify("quitting: waiting for the checkpoint to be saved…")
        return True
    if not ctl.run_active_here() and not ctl.followed_active():
        return False
    also = f"\nAlso running: {', '.join(others)} (stopped when the app quits)." if others else ""
    if ctl.run_active_here():
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
            screen.app.exit(0)
        elif choice == "stop" and ctl.run_active_here():
            ctl.quitting = True
            ctl.stop_current(QUIT_REASON, stop_cause.QUIT)
            screen.notify("stopping: saving a checkpoint, then quitting…", timeout=30)
            screen.run_worker(exit_when_saved(ctl), group="quit", exit_on_error=False)
        elif choice == "stop":
            if ctl.followed_active():
                ctl.stop_folder_run()
            screen.app.exit(0)

    default = "stop" if ctl.run_active_here() else "keep"  # Enter quits; nothing is lost either way
    screen.app.push_screen(ChoiceDialog("Quit?", body, choices, default=default), answered)
    return True


async def exit_when_saved(ctl) -> None:
    while ctl.run_done is not None and not ctl.run_done.is_set():
        await asyncio.sleep(0.1)
    ctl.screen.app.exit(0)


def on_hangup(ctl, reason: str) -> threading.Event | None:
    """The terminal went away: stop a run trained here (with a checkpoint); returns its done event."""
    if not ctl.run_active_here():
        return None
    ctl.control.stop(reason, stop_cause.HANGUP)
    return ctl.run_done


def closing(ctl) -> None:
    """Never leave a run training with nobody to see it: the app is closing."""
    ctl.stop_following()
    if ctl.run_active_here() and not ctl.control.stop_requested:
        ctl.control.stop(CLOSED_REASON, stop_cause.INTERRUPTED)
