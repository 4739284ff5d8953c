"""Pilot tests (80x24): the Training screen's ``l`` key changes a running run's settings between two steps,
in the app's own run and in a followed background run (through the run folder)."""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets import Input

from forgellm_tui.core.runs.reader import process_alive, read_run_json
from forgellm_tui.core.training.background import start_detached
from forgellm_tui.core.training.live import live_keys
from forgellm_tui.settings import Settings
from forgellm_tui.tui.dialogs.live import LiveSettingsDialog
from train_helpers import make_cfg, metrics_lines, run_json
from training_tui_helpers import long_config, open_training, start_run, stop_run
from tui_helpers import make_app, screen_text
from wait_helpers import pilot_wait_until

SIZE = (80, 24)
NEW = {"lr_scale": "0.5", "steps_per_report": "2", "steps_per_eval": "3", "save_every": "4",
       "early_stopping_patience": "5", "min_loss_improvement": "0.01", "overfitting_threshold": "2"}

pytestmark = pytest.mark.usefixtures("mlx_exit")  # training runs in a thread worker


async def _change_in_dialog(app, pilot, values: dict) -> None:
    """Open the dialog with ``l``, refuse a bad value first, then apply ``values``."""
    await pilot.press("l")
    await pilot_wait_until(pilot, lambda: isinstance(app.screen, LiveSettingsDialog), 10)
    dialog = app.screen
    text = screen_text(app)
    assert "steps_per_eval" in text and "1000" in text and "lr_scale" in text   # the current values
    assert "enter or ctrl+s apply" in text and "esc cancel" in text
    dialog.query_one("#live-steps_per_eval", Input).value = "0"
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, LiveSettingsDialog)
    assert "steps_per_eval: must be an integer ≥ 1" in screen_text(app)                 # refused, stays open
    for key, value in values.items():
        dialog.query_one(f"#live-{key}", Input).value = value
    await pilot.press("ctrl+s")
    await pilot_wait_until(pilot, lambda: not isinstance(app.screen, LiveSettingsDialog), 10)


async def test_l_changes_every_live_key_of_the_run_trained_here(workspace):
    long_config(workspace, iters=400)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 2, timeout=180)
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: screen.view.state == "paused", 60)
        at = screen.view.iteration
        run_dir = screen.view.run_dir
        values = {**NEW, "max_iterations": str(at + 8),
                  **({"sample_every": "5"} if "sample_every" in live_keys() else {})}
        await _change_in_dialog(app, pilot, values)
        await pilot_wait_until(pilot, lambda: len(run_json(run_dir).get("changes") or []) == len(values), 30)
        changes = run_json(run_dir)["changes"]
        assert {c["key"] for c in changes} == set(values) and {c["iteration"] for c in changes} == {at}
        await pilot_wait_until(pilot, lambda: screen.charts.changes == [at], 10)           # the marker
        await pilot_wait_until(pilot, lambda: "changed steps_per_eval 1000 -> 3" in screen.run_log.text, 10)
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished", 180)
        records = [r for r in metrics_lines(run_dir) if r["iteration"] > at]
        assert [r["iteration"] for r in records if r["validation_loss"] is not None] == [
            i for i in range(at + 1, at + 9) if i % 3 == 0 or i == at + 8]
        before = [r["learning_rate"] for r in metrics_lines(run_dir) if 0 < r["iteration"] <= at][-1]
        assert [r["learning_rate"] for r in records] == pytest.approx([before * 0.5] * len(records))


async def test_l_changes_a_followed_background_run_through_its_folder(workspace):
    cfg = make_cfg(workspace, name="followed", max_iterations=400, save_every=1000, steps_per_report=1,
                   steps_per_eval=1000, early_stopping=False)
    started = start_detached(cfg, Settings.load(workspace, env={}), cwd=workspace)
    run = started.run_dir
    try:
        app = make_app(workspace)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_training(app, pilot, estimate=False)
            screen.controller.follow_run(run)
            await pilot_wait_until(pilot, lambda: screen.view.is_active and screen.view.iteration >= 2, 300)
            await pilot.press("p")                                                       # asked through the folder
            await pilot_wait_until(pilot, lambda: screen.view.state == "paused", 60)
            at = read_run_json(run)["iteration"]
            await _change_in_dialog(app, pilot, {"steps_per_eval": "3", "lr_scale": "0.5"})
            await pilot_wait_until(pilot, lambda: len(read_run_json(run).get("changes") or []) == 2, 60)
            assert {c["key"]: c["new"] for c in read_run_json(run)["changes"]} == {"steps_per_eval": 3,
                                                                                   "lr_scale": 0.5}
            await pilot_wait_until(pilot, lambda: screen.charts.changes == [at], 30)
            await pilot_wait_until(pilot, lambda: "changed lr_scale 1.0 -> 0.5" in screen.run_log.text, 30)
            screen.controller.stop_current("stopped by user", "user")
            await pilot_wait_until(pilot, lambda: read_run_json(run)["status"] == "stopped", 120)
    finally:
        if process_alive(started.pid):
            os.kill(started.pid, signal.SIGKILL)
