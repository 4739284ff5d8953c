"""The loss watchdog: a non-finite loss or a loss spike stops a real run; the last good checkpoint stays newest."""

from __future__ import annotations

import json
import math

import pytest

from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.config.model import from_dict
from forgellm_tui.core.runs.checkpoints import latest_checkpoint, list_complete, load_weights
from forgellm_tui.core.training import loop, train
from forgellm_tui.core.training.watchdog import MIN_REPORTS, Watchdog

from train_helpers import Recorder, make_cfg, run_json

pytestmark = pytest.mark.usefixtures("mlx_exit")


def _poison_final_norm_at(monkeypatch, iteration: int, factor: float) -> None:
    """Fault injection: before the step that makes ``iteration``, multiply the frozen final norm's weight
    by ``factor`` (nan: every logit, loss and gradient of that real step becomes nan)."""
    real = loop.Session.train_step

    def train_step(self):
        if self.iteration + 1 == iteration:
            norm = self.model.model.norm
            norm.weight = norm.weight * factor
        return real(self)

    monkeypatch.setattr(loop.Session, "train_step", train_step)


def _log_messages(run_dir) -> list[str]:
    return [json.loads(line)["message"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(workspace, monkeypatch):
    _poison_final_norm_at(monkeypatch, 8, math.nan)
    events = Recorder()
    cfg = make_cfg(workspace, name="nan-run", max_iterations=12, save_every=3, steps_per_report=1)
    result = train(cfg, events)
    assert result.status == "stopped" and result.iteration == 8
    info = run_json(result.run_dir)
    assert info["stop_cause"] == "watchdog"
    assert "watchdog: training loss is nan at iteration 8" in info["stop_reason"]
    assert "checkpoint 0000006 (iteration 6) stays the newest" in info["stop_reason"]
    assert [it for it, _ in list_complete(result.run_dir)] == [3, 6]  # nothing saved after the nan
    newest = latest_checkpoint(result.run_dir)
    assert newest.name == "0000006"
    weights = load_weights(newest)
    assert weights and all(bool((w == w).all()) for w in weights.values())  # no nan in the kept weights
    assert any("stopping at iteration 8: watchdog" in m for m in _log_messages(result.run_dir))
    assert events.by_type["StateChanged"][-1].cause == "watchdog"
    monkeypatch.undo()  # the newest checkpoint resumes and trains on with finite losses
    resumed = train(cfg, resume_from=result.run_dir)
    assert resumed.status == "finished" and resumed.iteration == 12 and math.isfinite(resumed.last_training_loss)


def test_loss_spike_stops_after_patience_reports_and_skips_checkpoints(workspace, monkeypatch):
    _poison_final_norm_at(monkeypatch, 10, 100.0)  # logits x100: the loss jumps far above its median and stays
    cfg = make_cfg(workspace, name="spike-run", max_iterations=20, save_every=2, steps_per_report=1,
                   steps_per_eval=100, watchdog_factor=4, watchdog_patience=3)
    result = train(cfg)
    assert result.status == "stopped" and result.iteration == 12
    info = run_json(result.run_dir)
    assert info["stop_cause"] == "watchdog" and "for 3 reports in a row" in info["stop_reason"]
    assert latest_checkpoint(result.run_dir).name == "0000008"
    assert [it for it, _ in list_complete(result.run_dir)] == [2, 4, 6, 8]
    assert any("checkpoint at iteration 10 skipped: report 1 of 3" in m for m in _log_messages(result.run_dir))


def test_watchdog_off_keeps_the_old_failure(workspace, monkeypatch):
    _poison_final_norm_at(monkeypatch, 2, math.nan)
    result = train(make_cfg(workspace, name="no-watchdog", max_iterations=4, watchdog=False))
    assert result.status == "failed" and "training loss became nan" in result.error


def test_spike_rule_needs_history_and_a_streak():
    dog = Watchdog(True, 4.0, 2)
    assert dog.report(1, 50.0) == ""  # no median yet: a fast-falling start is no spike
    for it in range(2, 2 + MIN_REPORTS):
        dog.report(it, 2.0)
    assert dog.report(10, 9.0) == "" and dog.suspect  # first spike: watched, not stopped
    assert dog.report(11, 2.5) == "" and not dog.suspect  # back to normal: the streak ends
    dog.report(12, 9.0)
    assert "above 4 x its median" in dog.report(13, 9.5)
    assert Watchdog(True, 4.0, 2).step(3, 1.0, math.inf) == "gradient norm is inf at iteration 3"
    assert Watchdog(False, 4.0, 2).step(3, math.nan, 1.0) == ""


@pytest.mark.parametrize("key,value,words", [("watchdog_factor", 1, "> 1"), ("watchdog_patience", 0, "≥ 1"),
                                             ("watchdog", "sometimes", "true or false")])
def test_bad_watchdog_keys_are_refused(workspace, key, value, words):
    with pytest.raises(ForgeError) as err:
        from_dict({"model": "m", "data": "d", key: value}, workspace=workspace)
    assert key in str(err.value) and words in str(err.value)
