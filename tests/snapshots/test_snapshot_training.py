"""Snapshots of the Training screen's run view at 80×24 and 120×40, following a hand-written run folder
(fixed losses, times and log lines: nothing depends on the machine or the clock).

Same conventions as ``test_snapshots.py``: Textual 8.2.8 only, ``HOME`` set so the status bar shows
``~/ws``. Update after a deliberate change with ``--snapshot-update`` and look at the report first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from training_tui_helpers import status_redrawn
from tui_helpers import make_app, settle, snapshot_textual_only, steady_cursors

pytestmark = snapshot_textual_only
RUN = "forge-tiny_cpt_demo"
ITERS = 200


def curve_records() -> list[dict]:
    """A typical CPT run: training loss falling with noise, validation every 25 steps, cosine LR."""
    records = []
    for it in range(0, ITERS + 1, 5):
        train = None if it == 0 else round(2.4 + 5.8 * math.exp(-it / 45) + 0.12 * math.sin(it * 1.7), 4)
        val = round(2.55 + 5.9 * math.exp(-it / 50) + (0.0006 * max(it - 150, 0) ** 1.5), 4) if it % 25 == 0 else None
        lr = 5e-4 * min(1.0, max(it, 1) / 10) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * it / ITERS)))
        records.append({"iteration": it, "timestamp": f"2026-01-15T10:{it // 5:02d}:00Z", "training_loss": train,
                        "validation_loss": val, "learning_rate": round(lr, 8),
                        "tokens_per_second": None if it == 0 else round(2100 + 150 * math.sin(it / 9), 1),
                        "memory_usage_gb": 0.4312, "gpu_utilization": None,
                        "gradient_norm": None if it == 0 else round(1.2 + 0.8 * math.exp(-it / 60), 4),
                        "trained_tokens": it * 8 * 127, "epoch": round(it * 8 / 6091, 4), "eta_seconds": 0.0})
    return records


def write_run(ws: Path) -> Path:
    run = ws / "models" / "cpt" / RUN
    (run / "checkpoints" / "0000200").mkdir(parents=True)
    (run / "config.yaml").write_text("model: models/base/forge-tiny\ndata: data/cpt-demo\noverfitting_threshold: 0.3\n")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in curve_records()))
    (run / "log.jsonl").write_text("".join(json.dumps({"timestamp": "2026-01-15T10:00:00Z", "level": lvl,
                                                       "message": msg}) + "\n" for lvl, msg in (
        ("info", "tokenizing 6,091 training and 707 validation rows"),
        ("warning", "3 of 707 validation sequences are longer than max_seq_length=128 and are truncated"),
        ("info", "early stop at iteration 200: no validation improvement"))))
    (run / "run.json").write_text(json.dumps({
        "name": RUN, "status": "finished", "training_type": "cpt", "fine_tune_type": "lora",
        "model": "models/base/forge-tiny", "data": "data/cpt-demo", "started_at": "2026-01-15T10:00:00Z",
        "ended_at": "2026-01-15T10:41:07Z", "pid": None, "iteration": ITERS, "max_iterations": ITERS,
        "last_checkpoint": "0000200", "stop_reason": "reached max_iterations"}))
    return run


@pytest.fixture
def snap_workspace(tmp_path, monkeypatch) -> Path:
    ws = tmp_path / "ws"
    (ws / "configs").mkdir(parents=True)
    (ws / "configs" / "cpt-demo.yaml").write_text("model: models/base/forge-tiny\ndata: data/cpt-demo\n")
    write_run(ws)
    monkeypatch.setenv("HOME", str(tmp_path))
    return ws


async def _follow(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("2")
    await pilot.pause()
    screen = pilot.app.screen
    screen.controller.follow_run(screen.settings.workspace / "models" / "cpt" / RUN)
    await settle(pilot.app, pilot)
    screen.charts.draw()  # what the 4 Hz redraw timer does, without waiting for it
    await status_redrawn(pilot, screen)
    pilot.app.clear_notifications()
    steady_cursors(pilot.app)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_training_run_view(snap_compare, snap_workspace, size):
    app = make_app(snap_workspace)
    assert snap_compare(app, terminal_size=size, run_before=_follow)
