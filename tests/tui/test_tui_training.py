"""Pilot tests of the Training screen: real runs of the demo model, started and controlled by keys."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from textual.widgets import Input

from forgellm_tui.core.runs.checkpoints import latest_checkpoint, list_complete
from forgellm_tui.tui.dialogs import ConfirmDialog
from forgellm_tui.tui.dialogs.ask import AskDialog
from forgellm_tui.tui.messages import ResumeRun
from train_helpers import metrics_lines, run_json
from training_tui_helpers import long_config, open_training, start_run, status_redrawn, stop_run, tiny_config
from wait_helpers import pilot_wait_until, wait_until
from tui_helpers import make_app, notifications, screen_text, settle

SIZE = (100, 30)


pytestmark = pytest.mark.usefixtures("mlx_exit")  # training runs in a thread worker


def _runs(ws):
    root = ws / "models" / "cpt"
    return sorted(p for p in root.iterdir() if (p / "run.json").exists()) if root.is_dir() else []


async def test_start_run_from_keyboard_charts_every_point(workspace):
    tiny_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        assert "6 iterations = 0.12 epochs" in screen_text(app)  # the estimate before starting
        assert "$ forgellm-tui" in screen_text(app) and "train configs/tiny.yaml" in screen_text(app)
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished")
        await settle(app, pilot)
        await status_redrawn(pilot, screen)  # the throttled redraw
        run_dir = screen.view.run_dir
        lines = metrics_lines(run_dir)
        assert screen.charts.records == lines  # every point the engine emitted, in order
        assert [p[0] for p in screen.charts.train] == [r["iteration"] for r in lines if r["training_loss"]]
        assert [p[0] for p in screen.charts.val] == [0, 3, 6]
        vals = [(r["iteration"], r["validation_loss"]) for r in lines if r.get("validation_loss") is not None]
        assert screen.charts.best_val() == min(vals, key=lambda p: p[1])  # the marked best point
        text = screen_text(app)
        assert "finished" in text and "6 / 6 (100%)" in text and "0000006 (final)" in text
        assert "tokenizing 96 training" in screen.run_log.text  # the engine's log lines in the log pane
        assert "finished at iteration 6" in text  # the newest one in view
        assert run_json(run_dir)["status"] == "finished"
        await pilot.press("o")  # the run on the Checkpoints screen
        await pilot_wait_until(pilot, lambda: app.current_mode == "checkpoints"
                               and app.screen.query_one("#ckpt-runs").current_key() == str(run_dir), 20)


async def test_pause_resume_save_and_stop(workspace):
    long_config(workspace)
    app = make_app(workspace)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 2)
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: screen.view.state == "paused")
        run_dir = screen.view.run_dir
        held = screen.view.iteration
        await pilot.pause(1.0)
        assert screen.view.iteration == held and run_json(run_dir)["status"] == "paused"
        assert "paused" in screen_text(app)
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: screen.view.state == "running" and screen.view.iteration > held + 1)
        await pilot.press("k")  # save a checkpoint now
        await pilot_wait_until(pilot, lambda: list_complete(run_dir))
        assert any("checkpoint saved" in n.message for n in notifications(messages))
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot_wait_until(pilot, lambda: screen.view.state == "stopped")
        await settle(app, pilot)
        info = run_json(run_dir)
        assert info["status"] == "stopped" and info["stop_reason"] == "stopped by user"
        stopped_at = info["iteration"]
        assert latest_checkpoint(run_dir).name == f"{stopped_at:07d}"  # saved at the stop
        assert screen.charts.records == metrics_lines(run_dir)


async def test_extend_a_running_run(workspace):
    long_config(workspace, iters=400)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 1)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, AskDialog)
        app.screen.query_one(Input).value = "25"  # (pressing keys waits for an idle CPU: none while training)
        await pilot.press("enter")
        await pilot_wait_until(pilot, lambda: screen.view.max_iterations == 425)
        run_dir = screen.view.run_dir
        assert "max_iterations: 425" in (run_dir / "config.yaml").read_text()
        await stop_run(app, pilot, screen, "test done")
        assert run_json(run_dir)["max_iterations"] == 425


async def test_invalid_form_value_shows_error_and_does_not_start(workspace):
    tiny_config(workspace)
    app = make_app(workspace)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_training(app, pilot)
        screen.form.focus_field("batch_size")
        await pilot.press("end", "backspace", "0")
        await pilot.pause()
        text = screen_text(app)
        assert "✗ must be an integer ≥ 1" in text
        assert "$ forgellm-tui" not in text  # no command line for an invalid config
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert screen.view is None and _runs(workspace) == []
        assert any("not started: batch_size" in n.message for n in notifications(messages))
        # fixing it brings the command line back with the override
        await pilot.press("backspace", "4")
        await pilot.pause()
        assert "--set batch_size=4" in screen_text(app)


async def test_save_as_a_new_config(workspace):
    tiny_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        screen.form.set_text("learning_rate", "2e-4")
        await pilot.press("ctrl+w")
        await pilot.pause()
        assert isinstance(app.screen, AskDialog)
        app.screen.query_one(Input).value = "tiny-slower"
        await pilot.press("enter")
        await settle(app, pilot)
        saved = workspace / "configs" / "tiny-slower.yaml"
        assert saved.exists() and "learning_rate: 0.0002" in saved.read_text()
        assert screen.setup.draft.path == saved and "train configs/tiny-slower.yaml" in screen_text(app)
        assert "--set" not in screen_text(app)  # the new file holds the edit: no override left


async def test_quit_during_a_run_stops_and_saves(workspace):
    long_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 2)
        run_dir = screen.view.run_dir
        await pilot.press("q")
        await pilot.pause()
        assert "Yes, stop, save and quit" in screen_text(app) and "y / n pick" in screen_text(app)
        await pilot.press("y")  # a yes/no question: y, as "?" says
        await pilot_wait_until(pilot, lambda: not app.is_running, 60)
    info = run_json(run_dir)
    assert info["status"] == "stopped" and "quit" in info["stop_reason"]
    assert latest_checkpoint(run_dir).name == f"{info['iteration']:07d}"


async def test_failure_during_a_run_is_shown(workspace):
    tiny_config(workspace)
    app = make_app(workspace)
    messages = []

    def fault(iteration: int) -> None:  # fault injection: the step at iteration 3 fails
        if iteration == 3:
            raise RuntimeError("injected failure in the training step")

    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_training(app, pilot)
        screen.controller.fault_hook = fault
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view.state == "failed")
        await settle(app, pilot)
        await status_redrawn(pilot, screen)
        assert "injected failure" in screen_text(app)  # status panel
        assert any(n.severity == "error" and "injected failure" in n.message for n in notifications(messages))
        assert run_json(screen.view.run_dir)["status"] == "failed"
        await pilot.press("ctrl+t")  # still usable
        await pilot.pause()
        assert "setup ·" in screen_text(app)


async def test_out_of_memory_recovery_is_shown(workspace):
    tiny_config(workspace)
    app = make_app(workspace)
    messages = []
    failed = []

    def fault(iteration: int) -> None:  # fault injection: the step at iteration 5 runs out of memory once
        if iteration == 5 and not failed:
            failed.append(iteration)
            raise RuntimeError("[cpu] out of memory (injected)")

    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_training(app, pilot)
        screen.controller.fault_hook = fault
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished")
        await settle(app, pilot)
        await status_redrawn(pilot, screen)
        assert any(n.severity == "warning" and "out of memory" in n.message for n in notifications(messages))
        assert "batch_size 2 -> 1" in screen_text(app)  # the status panel's notice


async def test_bad_config_and_bad_folders_are_messages(workspace):
    tiny_config(workspace)
    (workspace / "configs" / "broken.yaml").write_text("model: [unclosed\n")
    not_a_run = workspace / "models" / "cpt" / "not-a-run"
    not_a_run.mkdir(parents=True)
    app = make_app(workspace)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_training(app, pilot, estimate=False)  # broken.yaml sorts first
        await pilot.pause()
        assert "YAML syntax error at line 2" in screen_text(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert screen.view is None and any("not started" in n.message for n in notifications(messages))
        await pilot.press("down")  # tiny.yaml: usable again
        await pilot_wait_until(pilot, lambda: screen.setup.estimate_lines, 30)
        screen.controller.follow_run(not_a_run)
        await settle(app, pilot)
        assert any("not a run folder" in n.message for n in notifications(messages))
        assert app.is_running and screen.view is None


async def test_follow_a_folder_being_written(workspace):
    """A run of another process: a half-written last line waits until it is complete."""
    run_dir = workspace / "models" / "cpt" / "hand-run"
    run_dir.mkdir(parents=True)
    info = {"name": "hand-run", "status": "running", "max_iterations": 4, "pid": os.getpid(),
            "host": socket.gethostname(), "started_at": "2026-01-01T10:00:00Z"}
    (run_dir / "run.json").write_text(json.dumps(info))
    recs = [{"iteration": i, "training_loss": 3.0 - i / 4, "validation_loss": None, "learning_rate": 1e-4,
             "tokens_per_second": 900.0} for i in (1, 2, 3)]
    last = json.dumps({"iteration": 4, "training_loss": 2.0, "validation_loss": 2.5}) + "\n"
    metrics = run_dir / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in recs) + last[:12])
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)  # an active run in the workspace is followed at once
        await pilot_wait_until(pilot, lambda: screen.view is not None and len(screen.charts.records) == 3, 10)
        assert screen.view.source == "folder" and screen.view.state == "running"
        with metrics.open("a") as fh:
            fh.write(last[12:])
        await pilot_wait_until(pilot, lambda: len(screen.charts.records) == 4, 10)
        assert screen.charts.val == [(4, 2.5)]
        (run_dir / "run.json").write_text(json.dumps({**info, "status": "finished",
                                                      "ended_at": "2026-01-01T10:01:30Z"}))
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished", 10)
        await status_redrawn(pilot, screen)
        assert "time   1m30s" in screen_text(app)


async def test_follow_a_run_started_with_the_cli(workspace):
    tiny_config(workspace, iters=30, report=1, eval_every=10, val_batches=1, save_every=10)
    proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train",
                             "configs/tiny.yaml", "--name", "cli-run"], cwd=workspace,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run_dir = workspace / "models" / "cpt" / "cli-run"
    try:
        app = make_app(workspace)
        async with app.run_test(size=SIZE) as pilot:
            await pilot_wait_until(pilot, lambda: (run_dir / "run.json").exists(), 60)
            screen = await open_training(app, pilot)
            await pilot.press("f")
            await pilot.pause()
            assert "Follow a run" in screen_text(app) and "cli-run" in screen_text(app)
            await pilot.press("enter")
            await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.source == "folder")
            await pilot_wait_until(pilot, lambda: screen.view.state == "finished", 120)
            await status_redrawn(pilot, screen)
            assert screen.charts.records == metrics_lines(run_dir)
            assert [p[0] for p in screen.charts.val] == [0, 10, 20, 30]
            text = screen_text(app)
            assert "status · followed" in text and "finished" in text and "30 / 30" in text
    finally:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]


async def test_background_run_keeps_going_after_quit(workspace):
    long_config(workspace, iters=60)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await pilot.press("ctrl+d")
        await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.iteration >= 1, 90)
        run_dir = screen.view.run_dir
        assert screen.view.source == "folder" and screen.view.is_active
        await pilot.press("q")
        await pilot.pause()
        assert "Keep it running, quit" in screen_text(app)
        await pilot.press("k")
        await pilot_wait_until(pilot, lambda: not app.is_running, 10)
    wait_until(lambda: run_json(run_dir)["status"] == "finished", 120, 0.5,  # the run goes on without the app
               describe=lambda: run_json(run_dir))
    assert metrics_lines(run_dir)[-1]["iteration"] == 60


async def test_resume_a_stopped_run_exactly(workspace):
    long_config(workspace, iters=30)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 3)
        await stop_run(app, pilot, screen, "test stop")
        run_dir = screen.view.run_dir
        stopped_at = run_json(run_dir)["iteration"]
        screen.post_message(ResumeRun(str(run_dir)))  # what the Checkpoints screen's "resume" sends
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished")
        await settle(app, pilot)
        info = run_json(run_dir)
        assert info["status"] == "finished" and info["resumed_from"][0]["iteration"] == stopped_at
        lines = metrics_lines(run_dir)
        assert [r["iteration"] for r in lines] == list(range(0, 31))
        assert screen.charts.records == lines  # earlier points read back, new ones live
