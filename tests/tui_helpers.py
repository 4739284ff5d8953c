"""Helpers shared by the Pilot tests of the app (not a test module)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from textual.notifications import Notification, Notify

from forgellm_tui.settings import Settings
from forgellm_tui.tui.app import ForgeApp

SIZE = (80, 24)  # the smallest terminal the app supports
FILES_PER_CATEGORY = 4
IFT_LINES = 120


@pytest.fixture
def small_workspace(demo_dir, tmp_path) -> Path:
    """The demo workspace with a few files per category: the same shape, scanned in a fraction of the time.

    The demo model is linked, not copied (the app only reads it).
    """
    ws = tmp_path / "small"
    for sub in ("data", "configs", "published", "models/base"):
        (ws / sub).mkdir(parents=True)
    (ws / "models/base/forge-tiny").symlink_to(demo_dir / "models/base/forge-tiny", target_is_directory=True)
    for config in (demo_dir / "configs").glob("*.yaml"):
        (ws / "configs" / config.name).write_bytes(config.read_bytes())
    for category in sorted(p for p in (demo_dir / "dataset").iterdir() if p.is_dir()):
        (ws / "dataset" / category.name).mkdir(parents=True)
        for src in sorted(category.iterdir())[:FILES_PER_CATEGORY]:
            data = src.read_bytes()
            if src.suffix == ".jsonl":
                data = b"\n".join(data.splitlines()[:IFT_LINES]) + b"\n"
            (ws / "dataset" / category.name / src.name).write_bytes(data)
    return ws


def make_app(workspace: Path, env: dict | None = None, detect_device: bool = False) -> ForgeApp:
    """The app on ``workspace``; the device probe (imports MLX) is off unless asked for."""
    return ForgeApp(Settings.load(workspace, env=env or {}), detect_device=detect_device)


async def settle(app, pilot, rounds: int = 3) -> None:
    """Wait until workers, and the workers their results start, are done."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


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
