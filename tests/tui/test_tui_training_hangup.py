"""SSH drop during a run started in the app: the real app in a pseudo-terminal gets SIGHUP and loses it.

The run must stop after its step with a checkpoint and ``stopped`` + reason in run.json before the
process exits; the next app start in the workspace offers to resume it, and resuming continues it.
"""

from __future__ import annotations

import pytest

from forgellm_tui.core.runs.checkpoints import latest_checkpoint
from forgellm_tui.tui.dialogs.resume import ResumeDialog
from forgellm_tui.tui.hangup import HANGUP_REASON
from terminal_helpers import Terminal
from train_helpers import metrics_lines, run_json
from training_tui_helpers import long_config, open_training, start_run, training_screen
from wait_helpers import pilot_wait_until, wait_until
from tui_helpers import SIZE, make_app, screen_text, settle

pytestmark = pytest.mark.usefixtures("mlx_exit")


def _trained(ws, at_least: int):
    runs = list((ws / "models" / "cpt").glob("*/metrics.jsonl")) if (ws / "models" / "cpt").is_dir() else []
    if not runs:
        return None
    records = [r for r in metrics_lines(runs[0].parent) if r.get("training_loss") is not None]
    return runs[0].parent if len(records) >= at_least else None


async def test_sighup_stops_with_a_checkpoint_and_the_next_start_resumes(workspace):
    long_config(workspace, iters=30)
    term = Terminal(["--workspace", str(workspace)])
    term.wait_for(b"Datasets")
    term.press(b"2")
    term.wait_for(b"long.yaml")
    term.wait_for(b"steps/epoch")  # the form and estimate load in a thread: ctrl+r needs them
    term.press(b"\x12")  # ctrl+r: start
    wait_until(lambda: _trained(workspace, 3) is not None, 120, describe=lambda: term.output[-2000:])
    run_dir = _trained(workspace, 3)
    term.hang_up()
    code = term.wait_exit(120)
    info = run_json(run_dir)
    assert info["status"] == "stopped" and "SIGHUP" in info["stop_reason"], info
    assert info["iteration"] >= 3 and latest_checkpoint(run_dir).name == f"{info['iteration']:07d}"
    assert code == 0
    stopped_at = info["iteration"]

    app = make_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot_wait_until(pilot, lambda: isinstance(app.screen, ResumeDialog), 30)
        await pilot_wait_until(pilot, lambda: "Resume training?" in screen_text(app), 10)  # the dialog painted
        assert "SIGHUP" in screen_text(app)
        await pilot.press("y")
        await pilot_wait_until(pilot, lambda: app.current_mode == "training")
        screen = training_screen(app)
        await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.state == "finished", 120)
        await settle(app, pilot)  # the training worker returns
    info = run_json(run_dir)
    assert info["status"] == "finished" and info["resumed_from"][0]["iteration"] == stopped_at
    assert [r["iteration"] for r in metrics_lines(run_dir)] == list(range(0, 31))


async def test_runs_stopped_by_quitting_or_a_hangup_are_both_offered(workspace):
    """A run stopped because the app quit is offered for resume next time, like one stopped by a hangup."""
    long_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 2)
        hung_up = screen.view.run_dir
        screen.on_hangup(HANGUP_REASON)  # what the SIGHUP handler asks of the screen that owns the run
        await pilot_wait_until(pilot, lambda: screen.view.state == "stopped" and not screen.controller.run_active_here())
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view.run_dir != hung_up and screen.view.iteration >= 2)
        quit_run = screen.view.run_dir
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot_wait_until(pilot, lambda: not app.is_running, 60)
    assert "quit the app" in run_json(quit_run)["stop_reason"]

    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot_wait_until(pilot, lambda: isinstance(app.screen, ResumeDialog), 30)
        await pilot_wait_until(pilot, lambda: "Resume training?" in screen_text(app), 10)
        text = screen_text(app)
        assert quit_run.name in text and hung_up.name in text
        assert "stopped by user (quit the app)" in text and "terminal closed (SIGHUP)" in text
        assert text.index("quit the app") < text.index("SIGHUP")  # newest first
        await pilot.press("d")  # don't ask again: about both
        await pilot.pause()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)  # the scan for runs to resume is done and its answer handled
        assert not isinstance(app.screen, ResumeDialog)
