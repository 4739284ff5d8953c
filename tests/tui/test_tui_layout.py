"""The app at 80×24 (a small terminal over SSH): what a user decides by is on screen, nothing important is
cut off, and the status and log say what the run is doing now.

The layout tests read hand-written run folders (no MLX); the log and resume tests train the demo model.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket

import pytest

from forgellm_tui.core.config.model import load_config
from forgellm_tui.core.training import prepare_run
from forgellm_tui.settings import Settings
from forgellm_tui.tui.messages import ResumeRun
from forgellm_tui.tui.screens import TrainingScreen
from publish_helpers import write_fake_run
from train_helpers import run_json
from training_tui_helpers import long_config, open_training, start_run, status_redrawn, stop_run, tiny_config
from wait_helpers import pilot_wait_until
from tui_helpers import make_app, screen_text, settle

SIZE = (80, 24)
LONG_A = "forge-tiny_cpt_lr0.0005_bs8_iter2000_2026-01-15_10-30"  # the old default names: 54 characters
LONG_B = "forge-tiny_cpt_lr0.0005_bs8_iter2000_2026-01-15_10-31"
TIME = re.compile(r"^\d\d:\d\d:\d\d ")


pytestmark = pytest.mark.usefixtures("mlx_exit")  # training runs in a thread worker


def _layout_workspace(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    (ws / "configs").mkdir(parents=True)
    (ws / "configs" / "cpt.yaml").write_text("model: models/base/forge-tiny\ndata: data/cpt-demo\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    return ws


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _running_run(ws, name: str, eta_seconds: float):
    """A run of another (live) process, two hours from its end."""
    run = ws / "models" / "cpt" / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: models/base/forge-tiny\n")
    rec = {"iteration": 120, "timestamp": _now(), "training_loss": 2.5, "validation_loss": 2.61,
           "learning_rate": 1e-4, "tokens_per_second": 2100.0, "trained_tokens": 1_200_000, "epoch": 0.4,
           "eta_seconds": eta_seconds}
    (run / "metrics.jsonl").write_text(json.dumps(rec) + "\n")
    (run / "run.json").write_text(json.dumps({
        "name": name, "status": "running", "training_type": "cpt", "started_at": _now(), "pid": os.getpid(),
        "host": socket.gethostname(), "iteration": 120, "max_iterations": 20000, "last_checkpoint": "0000100"}))
    return run


def _last_line(app) -> str:
    return screen_text(app).rstrip("\n").splitlines()[-1]


async def test_status_panel_fits_80_columns(tmp_path, monkeypatch):
    """A long ETA, a long name and a pending stop are readable in the status panel at 80×24."""
    ws = _layout_workspace(tmp_path, monkeypatch)
    _running_run(ws, LONG_A, eta_seconds=2 * 3600 + 14 * 60 + 30)
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot, estimate=False)  # the active run is followed at once
        await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.iteration == 120, 20)
        await status_redrawn(pilot, screen)
        text = screen_text(app)
        assert re.search(r"time   \d+s · ETA 2h1[34]m", text), text  # was "ETA 2:14:…" cut after "ETA 2:"
        assert "forge-tiny_cpt" in text and "01-15_10-30" in text  # cut in the middle, both ends kept
        assert "status · followed" in text and "running" in text
        screen.controller.pending = "stopping: saving a checkpoint…"
        screen.controller.status_dirty = True
        await status_redrawn(pilot, screen)
        text = screen_text(app)
        assert "running · stopping…" in text  # was "running (stopping: savi"
        assert "run · stopping: saving a checkpoint… · ^t setup" in text  # the whole request in the toolbar
        assert "? Keys" in _last_line(app) and "q Quit" in _last_line(app)
        screen.controller.pending = ""


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_footer_keeps_help_and_quit(tmp_path, monkeypatch, size):
    """Every screen's footer shows ``? Keys`` and ``q Quit``; at 80 columns the screen keys go first."""
    ws = _layout_workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        for key in ("2", "3", "4", "1"):
            await pilot.press(key)
            await pilot.pause(0.3)
            footer = _last_line(app)
            assert "? Keys" in footer and "q Quit" in footer, (key, footer)
            if key == "2":
                assert "^r Start" in footer and "p Pause" in footer and "x Stop" in footer
            if size == (120, 40):
                assert "1 Data" in footer and "4 Ckpts" in footer  # room for every key
        await settle(app, pilot)


async def test_checkpoints_tables_fit_80_columns(tmp_path, monkeypatch):
    """Status, iterations and best loss are on screen beside long run names; the checkpoint ranking's
    "why" is beside the chart; the compare legend tells two runs with long, alike names apart."""
    ws = _layout_workspace(tmp_path, monkeypatch)
    curve = {0: 3.2, 20: 2.6, 40: 2.31, 60: 2.35, 80: 2.52}
    train = {10: 2.9, 20: 2.55, 40: 2.1, 60: 1.7, 80: 1.3}
    write_fake_run(ws, LONG_A, val=curve, train=train, checkpoints=(20, 40, 60, 80), best=40)
    write_fake_run(ws, LONG_B, val={0: 3.1, 40: 2.4, 80: 2.2}, train=train, checkpoints=(40, 80), best=80,
                   status="stopped", started="2026-01-15T10:31:00Z")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        screen = app.screen
        await pilot_wait_until(pilot, lambda: screen.detail is not None and screen.detail.checkpoints, 20)
        await pilot.pause(0.3)
        text = screen_text(app)
        rows = [line for line in text.splitlines() if "01-15_10-3" in line]
        assert len(rows) == 2, text
        assert any("stopped" in r and "80" in r and "2.2000" in r for r in rows), rows  # status, iters, best val
        assert any("finished" in r and "2.3100" in r for r in rows), rows
        assert "runs (2) · → more columns" in text  # type and model are off to the right
        ranked = [line for line in text.splitlines() if "best/" in line]
        assert ranked and "lowest val" in ranked[0], text  # the reason, beside the chart
        screen.query_one("#ckpt-runs").focus()
        for _ in range(2):  # mark both runs, compare
            await pilot.press("space", "down")
            await pilot.pause()
        assert len(screen.marked) == 2
        await pilot.press("c")
        await pilot_wait_until(pilot, lambda: len(screen.query_one("#compare-plot").lines) == 2, 20)
        legend = list(screen.query_one("#compare-plot").lines)
        assert legend[0] != legend[1] and all(label.endswith(("10-30", "10-31")) for label in legend), legend
        text = screen_text(app)
        assert sum(label in text for label in legend) == 2
        await settle(app, pilot)


def test_default_run_name_is_short_and_counted(workspace):
    """No name given: ``<model>-<type>-<n>`` (the same rule for the app and ``forgellm-tui train``)."""
    tiny_config(workspace)
    settings = Settings.load(workspace, env={})
    cfg = load_config(workspace / "configs" / "tiny.yaml", None, settings)
    first, second = prepare_run(cfg), prepare_run(cfg)
    assert (first.name, second.name) == ("forge-tiny-cpt-1", "forge-tiny-cpt-2")
    assert "learning_rate: 0.001" in (first / "config.yaml").read_text()  # the settings stay with the run


async def test_log_pane_is_the_run_log(workspace):
    """Pause, resume, checkpoints and the stop are in log.jsonl and in the log pane, with times; the key
    hint follows the state; a second run's log is wrapped to the pane, not one character per line."""
    long_config(workspace, iters=400)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen: TrainingScreen = await open_training(app, pilot)
        await start_run(pilot, screen, 2)
        run_dir = screen.view.run_dir
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: screen.view.state == "paused")
        await status_redrawn(pilot, screen)
        paused_text = screen_text(app)
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: screen.view.state == "running")
        await pilot.press("k")
        await pilot_wait_until(pilot, lambda: screen.view.last_checkpoint and "manual" in screen.view.last_checkpoint)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await pilot_wait_until(pilot, lambda: screen.view.state == "stopped")
        await settle(app, pilot)
        logged = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
        messages = [rec["message"] for rec in logged]
        for expected in ("starting: cpt lora", "training iterations 0→400", "paused at iteration",
                         "resumed at iteration", "saved (manual)", "stopping at iteration",
                         "stopped at iteration"):
            assert any(expected in m for m in messages), (expected, messages)
        shown = screen.run_log.text.splitlines()
        assert [TIME.sub("", line) for line in shown] == messages  # the pane is log.jsonl
        assert all(TIME.match(line) for line in shown)
        assert "stopped at iteration" in screen_text(app)  # the newest line is on screen
        assert "run · p resume · x stop" in paused_text  # the key hint while paused (was "p pause")

        await pilot.press("ctrl+t")  # the second run starts while the run view is hidden
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view.run_dir is not None and screen.view.iteration >= 1)
        assert screen.view.run_dir != run_dir
        await pilot.pause(0.3)
        widths = [strip.cell_length for strip in screen.run_log.lines]
        assert widths and min(widths) > 5, widths
        assert "starting: cpt lora on" in "".join(strip.text for strip in screen.run_log.lines)
        await stop_run(app, pilot, screen, "test done")


async def test_resumed_run_keeps_its_time_and_checkpoint(workspace):
    """After a resume the elapsed time goes on from the checkpoint's and ``ckpt`` names it."""
    long_config(workspace, iters=30)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 3)
        await stop_run(app, pilot, screen, "test stop")
        run_dir = screen.view.run_dir
        stopped_at = run_json(run_dir)["iteration"]
        screen.post_message(ResumeRun(str(run_dir)))
        await pilot_wait_until(pilot, lambda: screen.view.run_dir == run_dir and screen.view.state == "running")
        await status_redrawn(pilot, screen)
        assert f"ckpt   {stopped_at:07d} (resumed)" in screen_text(app)  # was "ckpt —"
        assert screen.view.earlier_seconds > 0
        assert screen.view.elapsed() >= screen.view.earlier_seconds  # was the time since the resume only
        assert run_json(run_dir)["earlier_seconds"] == pytest.approx(screen.view.earlier_seconds, abs=0.1)
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished")
        await settle(app, pilot)


async def test_estimate_comes_back_after_a_fix(workspace):
    """An invalid value, then the same valid value as before: the estimate is shown again."""
    tiny_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        before = list(screen.setup.estimate_lines)
        screen.form.focus_field("max_iterations")
        await pilot.press("end", "backspace")  # 6 -> empty: invalid
        await pilot_wait_until(pilot, lambda: "fix the highlighted values first" in screen_text(app), 10)
        await pilot.press("6")
        await pilot_wait_until(pilot, lambda: screen.setup.estimate_lines == before, 20)
        await pilot.pause(0.2)
        assert "fix the highlighted values first" not in screen_text(app)
        assert any("6 iterations = 0.12 epochs" in line for line in before)


async def test_chat_toasts_leave_the_input_visible(tmp_path, monkeypatch):
    """A notification on the Chat screen does not cover the message input (it appears at the top)."""
    ws = _layout_workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("3")
        await pilot.pause()
        app.notify("a notification long enough to need two or three lines in the toast box " * 2, timeout=30)
        await pilot.pause(0.5)
        prompt = app.screen.query_one("#prompt").region
        toasts = [t.region for t in app.screen.query("Toast")]  # (Textual's toast widgets)
        assert toasts, "no toast shown"
        assert all(not t.overlaps(prompt) for t in toasts), (toasts, prompt)
