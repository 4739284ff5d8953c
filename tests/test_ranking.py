"""Checkpoint ranking and overfitting signs on synthetic metrics."""

from __future__ import annotations

import math
import random

from forgellm_tui.core.ranking import detect_overfitting, rank_checkpoints


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
