"""``forgellm-tui control``: a background run paused, changed (every live key), saved and resumed through
its folder; bad changes refused with one line and nothing sent."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from forgellm_tui import cli
from forgellm_tui.core.runs.reader import process_alive, read_metrics, read_run_json
from forgellm_tui.core.training.background import start_detached
from forgellm_tui.core.training.live import live_keys
from forgellm_tui.settings import Settings

from train_helpers import make_cfg
from wait_helpers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")]


def _control(ws, capsys, *args) -> tuple[int, str, str]:
    rc = cli.main(["--workspace", str(ws), "control", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_control_changes_every_live_key_of_a_background_run(workspace, capsys):
    cfg = make_cfg(workspace, name="steer", max_iterations=400, save_every=1000, steps_per_report=1,
                   steps_per_eval=1000, early_stopping=False)
    started = start_detached(cfg, Settings.load(workspace, env={}), cwd=workspace)
    run = started.run_dir
    try:
        wait_until(lambda: len(read_metrics(run)[0]) >= 3, 300, describe=lambda: (run / "train.log").read_text())
        rc, out, err = _control(workspace, capsys, run, "pause")
        assert rc == 0 and "pausing after this step" in out, err
        wait_until(lambda: read_run_json(run)["status"] == "paused", 60)
        at = read_run_json(run)["iteration"]

        rc, out, err = _control(workspace, capsys, run, "--set", "steps_per_eval=0")      # refused, nothing sent
        assert rc == 2 and err.count("\n") == 1 and "steps_per_eval: must be an integer ≥ 1" in err
        rc, out, err = _control(workspace, capsys, run, "--set", "batch_size=4")
        assert rc == 2 and "batch_size: cannot change while the run trains" in err and "Traceback" not in err
        assert not (run / "control.json").exists() and read_run_json(run).get("changes") == []

        sets = {"lr_scale": 0.5, "steps_per_report": 2, "steps_per_eval": 3, "save_every": 4,
                "early_stopping_patience": 5, "min_loss_improvement": 0.01, "overfitting_threshold": 2.0,
                "max_iterations": at + 8, **({"sample_every": 5} if "sample_every" in live_keys() else {})}
        rc, out, err = _control(workspace, capsys, run, *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")])
        assert rc == 0 and f"steps_per_eval 1000 -> 3 at iteration {at}" in out, err
        changes = read_run_json(run)["changes"]
        assert {c["key"]: c["new"] for c in changes} == sets and {c["iteration"] for c in changes} == {at}
        rc, out, _ = _control(workspace, capsys, run)                                       # the values now
        assert rc == 0 and "lr_scale = 0.5" in out and "steps_per_eval = 3" in out

        assert _control(workspace, capsys, run, "save")[0] == 0
        assert _control(workspace, capsys, run, "resume")[0] == 0
        wait_until(lambda: read_run_json(run)["status"] == "finished", 300,
                   describe=lambda: (run / "train.log").read_text()[-2000:])
        records = [r for r in read_metrics(run)[0] if r["iteration"] > at]
        assert [r["iteration"] for r in records if r["training_loss"] is not None] == [
            i for i in range(at + 1, at + 9) if i % 2 == 0 or i == at + 8]
        assert [r["iteration"] for r in records if r["validation_loss"] is not None] == [
            i for i in range(at + 1, at + 9) if i % 3 == 0 or i == at + 8]
        before = [r["learning_rate"] for r in read_metrics(run)[0] if 0 < r["iteration"] <= at]
        assert [r["learning_rate"] for r in records] == pytest.approx([before[-1] * 0.5] * len(records))
        saved = sorted(int(p.name) for p in (run / "checkpoints").iterdir())
        assert saved == sorted({at, *(i for i in range(at + 1, at + 9) if i % 4 == 0), at + 8})
        rc, _, err = _control(workspace, capsys, run, "--set", "save_every=2")              # ended: refused
        assert rc == 2 and "not training now (status finished)" in err
    finally:
        if process_alive(started.pid):
            os.kill(started.pid, signal.SIGKILL)
