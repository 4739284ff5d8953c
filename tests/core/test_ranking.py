"""Checkpoint ranking and overfitting signs on synthetic metrics."""

from __future__ import annotations

import math
import random

from forgellm_tui.core.runs.ranking import detect_overfitting, rank_checkpoints


def run_metrics(train_fn, val_fn, iters=200, report=5, eval_every=25):
    recs = []
    for it in range(report, iters + 1, report):
        rec = {"iteration": it, "training_loss": train_fn(it), "validation_loss": None}
        if it % eval_every == 0:
            rec["validation_loss"] = val_fn(it)
        recs.append(rec)
    return recs


def test_overfitting_run_picks_the_valley_and_flags_it():
    # training keeps falling; validation falls until 100 then climbs
    recs = run_metrics(lambda it: 3.0 * math.exp(-it / 80) + 0.2,
                       lambda it: 2.0 + ((it - 100) / 100) ** 2)
    ranked = rank_checkpoints(recs, range(25, 201, 25))
    assert ranked[0].iteration == 100
    assert "lowest validation loss" in ranked[0].reason
    assert [s.rank for s in ranked] == list(range(1, len(ranked) + 1))
    assert all(s.reasons for s in ranked[:3]) and not ranked[3].reasons
    signal = detect_overfitting(recs, threshold=0.3)
    assert signal.overfitting
    assert "rising" in signal.message or "above the best" in signal.message


def test_healthy_run_is_not_flagged_and_latest_wins():
    recs = run_metrics(lambda it: 3.0 - it / 100, lambda it: 3.1 - it / 100)
    assert not detect_overfitting(recs).overfitting
    ranked = rank_checkpoints(recs, range(25, 201, 25))
    assert ranked[0].iteration == 200


def test_noisy_training_prefers_stable_checkpoint_when_validation_ties():
    rng = random.Random(0)

    def train(it):
        noise = 1.5 if 100 < it <= 150 else 0.02
        return 2.0 + rng.uniform(-noise, noise)

    recs = run_metrics(train, lambda it: 2.5 if it in (125, 175) else 2.8)
    ranked = rank_checkpoints(recs, [125, 175])
    assert ranked[0].iteration == 175  # same validation loss, but training was calm there
    assert "most stable" in ranked[0].reason


def test_relative_threshold_triggers_on_a_jump():
    recs = [{"iteration": 10, "validation_loss": 2.0}, {"iteration": 20, "validation_loss": 1.0},
            {"iteration": 30, "validation_loss": 1.5}]
    sig = detect_overfitting(recs, threshold=0.3)
    assert sig.overfitting and sig.since_iteration == 20
    assert not detect_overfitting(recs, threshold=0.6).overfitting


def test_missing_and_bad_values_do_not_crash():
    recs = [{"iteration": 5, "training_loss": None}, {"iteration": "x"}, {"iteration": 10, "training_loss": "nan"},
            {"iteration": 10, "validation_loss": float("inf")}]
    ranked = rank_checkpoints(recs, [5, 10])
    assert len(ranked) == 2 and "no validation loss" in ranked[0].reason
    assert not detect_overfitting(recs).overfitting
    assert rank_checkpoints([], []) == []


def test_a_checkpoint_saved_between_validations_is_not_ranked_by_an_earlier_loss(tmp_path):
    from forgellm_tui.core.runs.analysis import run_detail
    from forgellm_tui.core.runs.lookup import select_checkpoint
    from forgellm_tui.core.runs.reader import read_run

    from publish_helpers import write_fake_run

    # validated at 40 and 80; 45 was saved by "save now" (or a stop) between the two validations
    run = write_fake_run(tmp_path, "saved-now", val={0: 9.0, 40: 7.5, 80: 7.6}, train={40: 7.6, 45: 7.55, 80: 7.7},
                         checkpoints=(40, 45, 80), best=40)
    rows = {r.label: r for r in run_detail(read_run(run)).checkpoints}
    assert rows["0000045"].validation_loss is None and rows["0000045"].gap is None
    assert "not validated" in rows["0000045"].reason and "lowest validation loss" not in rows["0000045"].reason
    assert rows["0000045"].rank == 3                      # after every validated checkpoint
    assert rows["best"].rank == rows["0000040"].rank == 1 and "lowest validation loss" in rows["0000040"].reason
    assert select_checkpoint(run, "recommended").iteration == 40


def test_model_card_names_best_and_recommended_apart():
    from forgellm_tui.core.publish.card import build_readme
    from forgellm_tui.core.publish.fuse import _why
    from forgellm_tui.core.runs.ranking import CheckpointScore

    ranked = [CheckpointScore(40, 2.10, 2.05, 0.05, 0.01, rank=1, reasons=["smallest generalisation gap (+0.0500)"]),
              CheckpointScore(80, 2.00, 1.60, 0.40, 0.01, rank=2, reasons=["lowest validation loss (2.0000)"])]
    meta = {"model_name": "m", "base_model": "b", "training_type": "CPT", "checkpoint_iteration": 80,
            "checkpoint": "best", "dequantized": False,
            "performance": {"tokens_trained": 10, "best_validation_loss": 2.0, "final_loss": 1.6}}
    why = _why("best", 80, ranked)
    readme = build_readme(meta=meta, cfg={}, ranked=ranked, records=[], why=why, run_name="r", data=None,
                          best_iteration=80)
    assert "lowest validation loss" in why and "ranks first" not in why
    assert "## Recommended checkpoints" in readme and "## Best checkpoints" not in readme
    assert "`best/` is the checkpoint with the lowest validation loss: iteration 80" in readme
    assert "The recommended one (rank 1) is iteration 40" in readme
    assert "| 2 | 80 (`best/`) | 2.0000 |" in readme and "| 1 | 40 | 2.1000 |" in readme
    assert "recommended checkpoint (rank 1)" in _why("0000040", 40, ranked)


def _three_verdicts(vals: list[float], threshold: float) -> list[tuple[bool, bool, bool]]:
    """After each validation: (early stopping, checkpoint analysis, status panel) say overfitting?"""
    from forgellm_tui.core.training.early_stopping import BestTracker
    from forgellm_tui.tui.run_view import RunView

    tracker = BestTracker(patience=100, min_improvement=0.0, threshold=threshold, enabled=True)
    view, recs, seen = RunView(threshold=threshold), [], []
    for i, val in enumerate(vals, start=1):
        rec = {"iteration": 10 * i, "validation_loss": val}  # no training loss: only the threshold rule applies
        recs.append(rec)
        view.apply_record(rec)
        seen.append((tracker.update(10 * i, val).overfitting, detect_overfitting(recs, threshold).overfitting,
                     view.overfitting is not None))
    return seen


def test_the_overfitting_rule_is_one_function():
    from forgellm_tui.core.runs.ranking import is_overfitting, overfitting_reason

    assert is_overfitting(1.31, 1.0, 0.3) and not is_overfitting(1.3, 1.0, 0.3)  # "more than", relative
    assert is_overfitting(2.7, 2.0, 0.3) and not is_overfitting(2.5, 2.0, 0.3)
    assert not is_overfitting(0.5, 0.0, 0.3)  # no relative scale above a best of 0
    assert overfitting_reason(1.5, 1.0, 20, 0.3) == \
        "validation loss 1.5000 is more than 30% above the best 1.0000 (iteration 20)"


def test_early_stopping_ranking_and_the_status_panel_agree_on_overfitting():
    vals = [2.0, 1.0, 1.2, 1.35, 1.1, 0.9, 1.25]
    seen = _three_verdicts(vals, 0.3)
    assert [a for a, _b, _c in seen] == [False, False, False, True, False, False, True]
    assert all(a == b == c for a, b, c in seen), seen
    # a best of exactly 0 used to be overfitting for two of them and not for the third
    seen = _three_verdicts([0.5, 0.0, 0.4], 0.3)
    assert all(a == b == c for a, b, c in seen), seen
