"""The Training screen with a distributed config: the estimate shows the ranks, ctrl+r starts the ranks
through mlx.launch in the background, and the run is followed live with per-rank throughput."""

from __future__ import annotations

import pytest

from forgellm_tui.core.runs.checkpoints import list_complete
from forgellm_tui.tui.dialogs import ConfirmDialog
from train_helpers import metrics_lines, run_json
from training_tui_helpers import open_training, start_run, status_redrawn, tiny_config
from wait_helpers import pilot_wait_until
from tui_helpers import make_app, notifications, screen_text

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]
SIZE = (100, 30)


def distributed_config(workspace, iters: int):
    path = tiny_config(workspace, iters=iters, report=2, eval_every=4, val_batches=1, save_every=4)
    path.write_text(path.read_text() + "distributed: {hosts: [127.0.0.1, 127.0.0.1], backend: ring}\n")


async def test_distributed_config_runs_in_the_background_and_is_followed(workspace):
    distributed_config(workspace, iters=8)
    app = make_app(workspace)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_training(app, pilot)
        estimate = "\n".join(screen.setup.estimate_lines)
        assert "2 ranks, data-parallel" in estimate and "tokens per rank per iteration" in estimate
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.source == "folder", 120)
        run_dir = screen.view.run_dir
        await pilot_wait_until(pilot, lambda: screen.view.world_size == 2 and screen.view.tokens_per_second, 120)
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished", 180)
        await status_redrawn(pilot, screen)
        assert any("distributed run" in n.message for n in notifications(messages))
        assert "ranks)" in screen_text(app) and "/rank" in screen_text(app)  # tok/s (N/rank · 2 ranks)
        info = run_json(run_dir)
        assert info["status"] == "finished" and info["distributed"]["world_size"] == 2
        assert screen.charts.records == metrics_lines(run_dir)
        assert metrics_lines(run_dir)[-1]["iteration"] == 8


async def test_stop_a_followed_distributed_run(workspace):
    distributed_config(workspace, iters=400)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 4, 180)
        run_dir = screen.view.run_dir
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot_wait_until(pilot, lambda: screen.view.state == "stopped", 60)  # every rank, after a checkpoint
        info = run_json(run_dir)
        assert info["status"] == "stopped" and info["iteration"] < 400
        assert info["iteration"] in [it for it, _folder in list_complete(run_dir)]
