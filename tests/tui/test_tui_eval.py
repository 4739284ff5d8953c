"""Pilot tests at 80x24: evaluate a checkpoint from the Checkpoints screen (v), see its test perplexity in
the table, and stop an evaluation with Esc without leaving a result file."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from forgellm_tui.core.evaluate import runner

from publish_helpers import run_dir
from tui_helpers import make_app, notifications, screen_text, settle, open_checkpoints
from wait_helpers import pilot_wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]  # evaluating runs MLX in a thread worker
SIZE = (80, 24)


@pytest.fixture
def ws(ws):
    """The trained workspace with its own copy of the run's data (the clone links the shared one) and a
    test split there (a copy of valid: only that the numbers reach the table matters)."""
    shared = (ws / "data").resolve()
    (ws / "data").unlink()
    data = ws / "data" / "cpt-small"
    shutil.copytree(shared / "cpt-small", data)
    (data / "test.jsonl").write_bytes((data / "valid.jsonl").read_bytes())
    (ws / "tasks").mkdir()  # the workspace's task files are scored too
    items = [{"query": "import json\n", "choices": ["data = json.loads(text)", "zz qq"], "gold": 0},
             {"query": "def read_file(", "choices": ["path):", "))) ((("], "gold": 0}]
    (ws / "tasks" / "tiny.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return ws


async def test_v_evaluates_the_selected_checkpoint_and_the_table_shows_it(ws):
    app = make_app(ws)
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_checkpoints(app, pilot)
        assert "Eval" in screen_text(app)  # in the footer
        assert "ppl" in screen_text(app) and "Δ%" in screen_text(app)
        await pilot.press("v")
        await pilot_wait_until(pilot, lambda: "best" in screen.detail.evals, timeout=120,
                               describe=lambda: [(n.title, n.message) for n in notifications(messages)])
        await settle(app, pilot)
        result = json.loads((run_dir(ws) / "eval" / "best.json").read_text())
        ppl = result["perplexity"]["perplexity"]
        text = screen_text(app)
        shown = f"{ppl:.2f}" if ppl < 100 else f"{ppl:.1f}" if ppl < 1000 else f"{ppl:.0f}"
        rows = [line for line in text.splitlines() if f" {shown} " in line]
        assert len(rows) == 2, text  # best/ and the numbered checkpoint it copies: the same weights
        assert rows[0].startswith("best/") and rows[1].startswith(f"{result['iteration']:07d}"), rows
        assert f"{result['change']['perplexity_pct']:+.0f}" in text
        acc = result["tasks"]["tiny"]["acc"]
        assert screen.detail.evals["best"].accuracy == acc
        assert f"task accuracy {100 * acc:.0f}%" in str(screen.query_one("#ckpt-notes").content)
        assert f"test perplexity {ppl:.3f}" in str(screen.query_one("#ckpt-notes").content)
        assert any(n.title == "Evaluated" for n in notifications(messages))
        assert not screen.query_one("#publish-progress").running


async def test_esc_stops_an_evaluation_and_nothing_is_written(ws, monkeypatch):
    real = runner.split_loss
    started = threading.Event()

    def held_split_loss(model, rows, max_seq_length, batch_size, cancel, tick):  # fault: hold until Esc
        started.set()
        cancel.wait(60)
        return real(model, rows, max_seq_length, batch_size, cancel, tick)

    monkeypatch.setattr(runner, "split_loss", held_split_loss)
    app = make_app(ws)
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_checkpoints(app, pilot)
        assert "Stop eval" not in screen_text(app)  # no dead Esc in the footer while nothing is evaluated
        await pilot.press("v")
        await pilot_wait_until(pilot, started.is_set, timeout=60, describe="the evaluation measures the base")
        assert screen.query_one("#publish-progress").running and "Stop eval" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert not screen.query_one("#publish-progress").running
        assert any("stopped: nothing written" in str(n.message) for n in notifications(messages))
        assert not (run_dir(ws) / "eval").exists() or not list((run_dir(ws) / "eval").iterdir())
        assert "best" not in screen.detail.evals
        assert "Stop eval" not in screen_text(app)


async def test_missing_test_split_is_one_line(ws):
    (ws / "data" / "cpt-small" / "test.jsonl").unlink()
    app = make_app(ws)
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_checkpoints(app, pilot)
        await pilot.press("v")

        def errors():
            return [n for n in notifications(messages) if n.title == "Not evaluated"]

        await pilot_wait_until(pilot, errors, timeout=60, describe=lambda: notifications(messages))
        errors = errors()
        assert "no test split" in str(errors[0].message) and "Traceback" not in str(errors[0].message)
        assert not (run_dir(ws) / "eval").exists()
