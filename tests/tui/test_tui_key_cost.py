"""What a key press costs the UI thread: the frames it draws and the garbage collections it can meet.

No timing here (that is ``bench/bench_ui.py``): these tests check the work itself — what a focus
change redraws, and when the collector may run.
"""

from __future__ import annotations

import gc

from textual._compositor import LayoutUpdate

from forgellm_tui.tui.heap import IdleCollector
from tui_helpers import SIZE, make_app, settle


def record_frames(app) -> list:
    """Every frame the app hands to its driver (what the terminal is sent)."""
    frames: list = []
    display = app._display

    def spy(screen, renderable):
        if renderable is not None:
            frames.append(renderable)
        return display(screen, renderable)

    app._display = spy
    return frames


async def test_moving_the_focus_does_not_redraw_the_whole_screen(small_workspace):
    app = make_app(small_workspace)
    frames = record_frames(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        before = app.focused
        frames.clear()
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not before and frames  # the focus moved and was drawn
        assert not any(isinstance(f, LayoutUpdate) for f in frames)  # only the changed widgets, not all 80×24


def test_only_young_objects_are_collected_while_the_app_runs_and_full_collections_wait_for_quiet(monkeypatch):
    saved = (gc.isenabled(), gc.get_threshold())
    collector = IdleCollector()
    full: list = []
    monkeypatch.setattr(gc, "collect", lambda *args: full.append(args))
    try:
        collector.start()
        assert gc.isenabled() and gc.get_threshold()[2] == IdleCollector.NEVER  # young: automatic; old: never
        collector._last_full -= IdleCollector.FULL_S  # a full collection is due
        collector.key_pressed()
        collector.tick()
        assert full == []  # a key was just pressed: not now
        collector._last_key -= IdleCollector.QUIET_S
        collector.tick()
        assert full == [()]  # the keyboard is quiet: now
        collector.tick()
        assert full == [()]  # and not again before FULL_S
    finally:
        collector.stop()
    assert (gc.isenabled(), gc.get_threshold()) == saved
