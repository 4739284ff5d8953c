"""Helpers shared by the Pilot tests of the app (not a test module)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import textual
from rich.console import Console

from textual.notifications import Notification, Notify
from textual.worker import WorkerCancelled

from forgellm_tui.settings import Settings
from forgellm_tui.tui.app import ForgeApp

SIZE = (80, 24)  # the smallest terminal the app supports
SNAPSHOT_TEXTUAL = "8.2.8"
snapshot_textual_only = pytest.mark.skipif(textual.__version__ != SNAPSHOT_TEXTUAL,
                                           reason=f"snapshots were drawn with Textual {SNAPSHOT_TEXTUAL}")
"""The snapshot SVGs were drawn with this Textual; other versions draw a few cells differently."""


def make_app(workspace: Path, env: dict | None = None, detect_device: bool = False) -> ForgeApp:
    """The app on ``workspace``; the device probe (imports MLX) is off unless asked for."""
    return ForgeApp(Settings.load(workspace, env=env or {}), detect_device=detect_device)


async def settle(app, pilot, rounds: int = 3) -> None:
    """Wait until workers, and the workers their results start, are done."""
    for _ in range(rounds):
        await _workers_done(app)
        await pilot.pause()


async def _workers_done(app, tries: int = 10) -> None:
    """Every worker finished. A cancelled one counts as finished: an exclusive worker (reading a run) is
    cancelled when a newer read replaces it, and waiting on it raises WorkerCancelled."""
    for _ in range(tries):
        running = [w for w in app.workers if not w.is_cancelled]
        if not running:
            return
        try:
            await app.workers.wait_for_complete(running)
            return
        except WorkerCancelled:  # cancelled while we waited: wait for the others again
            continue


async def settle_without_notifications(pilot) -> None:
    """Settle, clear the notifications and stop cursors blinking: a snapshot must not depend on which
    toasts are still up, nor on whether a focused field's cursor is in the on or off half of its blink."""
    await settle(pilot.app, pilot)
    pilot.app.clear_notifications()
    steady_cursors(pilot.app)
    await pilot.pause()


def steady_cursors(app) -> None:
    """Every text field on the screen draws its cursor steadily (shown while focused) instead of blinking."""
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


def after_keys(*presses: str | tuple[str, ...]):
    """A ``snap_compare`` ``run_before``: settle, then for each item press its key (or keys) and settle again."""
    async def run_before(pilot) -> None:
        await settle_without_notifications(pilot)
        for keys in presses:
            await pilot.press(*((keys,) if isinstance(keys, str) else keys))
            await settle_without_notifications(pilot)

    return run_before


def notifications(messages: list) -> list[Notification]:
    """The notifications shown so far (from a ``message_hook`` list)."""
    return [m.notification for m in messages if isinstance(m, Notify)]


def screen_text(app) -> str:
    """The text on screen now, as the user reads it (what ``save_screenshot`` draws, without colours)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None,
                      legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def open_checkpoints(app, pilot):
    """The Checkpoints screen, once the app has settled and ``4`` has switched to it."""
    from forgellm_tui.tui.screens.checkpoints import CheckpointsScreen

    await settle(app, pilot)
    await pilot.press("4")
    await settle(app, pilot)
    assert isinstance(app.screen, CheckpointsScreen)
    return app.screen
