"""Rank a run's checkpoints and spot overfitting, from its metrics.

Two different choices, two different names: ``best/`` is the checkpoint with the *lowest
validation loss*; the rank is a *recommended* order by the score below. Only a checkpoint validated
at its own iteration has a validation loss; the others rank after every validated one.

Pure functions over metrics records (dicts with ``iteration``, ``training_loss``,
``validation_loss``), so they are easy to test and cheap to call from the UI.

Score (lower is better), each term normalised to 0..1 across the candidates:
  0.5 x validation loss + 0.2 x generalisation gap (val - train) + 0.2 x instability of the recent
  training loss (variance of the last 5 reports) + 0.1 x convergence (slope of recent training loss).

A checkpoint with an evaluation result (held-out perplexity, from ``forgellm-tui eval``) is measured on
data training never saw, which says more than the score: evaluated checkpoints rank first, lowest
perplexity first; the others follow in score order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import pvariance
from typing import Iterable, Mapping, Sequence

from forgellm_tui.core.runs.evals import EvalScore

WEIGHTS = {"val": 0.5, "gap": 0.2, "stability": 0.2, "convergence": 0.1}
#: the words for the two different things a run's checkpoints are chosen by, used on every surface
BEST_WORDS = "lowest validation loss"      # best/, run.json best_iteration, ``publish --checkpoint best``
RANK_WORDS = "recommended"                 # rank 1 of the score below
NOT_VALIDATED = "not validated (saved between validations)"
RECENT = 5


def is_overfitting(loss: float, best_loss: float, threshold: float) -> bool:
    """The overfitting rule, the one place it is written: ``loss`` is more than ``threshold`` (0.3 = 30 %)
    above ``best_loss``, the lowest validation loss so far. Early stopping, the checkpoint analysis and
    the Training screen's status panel all ask it. A best of 0 or less has no relative scale: nothing
    counts as above it."""
    return best_loss > 0 and loss > best_loss * (1.0 + threshold)


def overfitting_reason(loss: float, best_loss: float, best_iteration: int, threshold: float) -> str:
    """The sentence a running run shows (and logs) when :func:`is_overfitting` holds."""
    return (f"validation loss {loss:.4f} is more than {threshold:.0%} above the best {best_loss:.4f} "
            f"(iteration {best_iteration})")


@dataclass
class CheckpointScore:
    iteration: int
    validation_loss: float | None
    training_loss: float | None
    gap: float | None
    instability: float | None
    score: float = math.inf
    rank: int | None = None
    reasons: list[str] = field(default_factory=list)
    evaluation: EvalScore | None = None  # held-out perplexity, when the checkpoint was evaluated
    reward_accuracy: float | None = None  # DPO, ORPO: fraction of validation pairs whose chosen answer won

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass
class OverfitSignal:
    overfitting: bool
    message: str
    since_iteration: int | None = None


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def split_series(records: Iterable[dict]) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """``(train, validation)`` as sorted ``(iteration, loss)`` lists, skipping missing values."""
    train: dict[int, float] = {}
    val: dict[int, float] = {}
    for rec in records:
        it = rec.get("iteration")
        if not isinstance(it, int):
            continue
        if (t := _finite(rec.get("training_loss"))) is not None:
            train[it] = t
        if (v := _finite(rec.get("validation_loss"))) is not None:
            val[it] = v
    return sorted(train.items()), sorted(val.items())


def _val_at(val: Sequence[tuple[int, float]], iteration: int) -> float | None:
    """Validation loss measured at this checkpoint's own iteration, else None.

    A checkpoint saved between validations (save now, stop, hang-up, quit, or ``save_every`` not a
    multiple of ``steps_per_eval``) was not validated: an earlier iteration's loss says nothing
    about its weights, so it is never ranked by one.
    """
    return next((v for it, v in val if it == iteration), None)


def _recent_train(train: Sequence[tuple[int, float]], iteration: int) -> list[float]:
    return [t for it, t in train if it <= iteration][-RECENT:]


def _slope(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def _normalise(values: list[float | None]) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [0.0 for _ in values]
    lo, hi = min(known), max(known)
    span = hi - lo
    return [1.0 if v is None else (0.0 if span == 0 else (v - lo) / span) for v in values]


def rank_checkpoints(records: Iterable[dict], iterations: Iterable[int], top: int = 3,
                     evals: Mapping[int, EvalScore] | None = None) -> list[CheckpointScore]:
    """Score every checkpoint iteration; returns them best first, the top ``top`` with reasons.

    ``evals`` (iteration -> held-out perplexity) puts the evaluated checkpoints first, lowest perplexity first.
    """
    evals = evals or {}
    records = list(records)
    train, val = split_series(records)
    accuracy = val_reward_accuracy(records)
    scores: list[CheckpointScore] = []
    slopes: list[float | None] = []
    for it in sorted(set(iterations)):
        v = _val_at(val, it)
        recent = _recent_train(train, it)
        t = sum(recent) / len(recent) if recent else None
        gap = (v - t) if (v is not None and t is not None) else None
        instab = pvariance(recent) if len(recent) >= 2 else None
        scores.append(CheckpointScore(it, v, t, gap, instab, evaluation=evals.get(it), reward_accuracy=accuracy.get(it)))
        slopes.append(abs(_slope(recent)) if len(recent) >= 2 else None)
    if not scores:
        return []
    n_val = _normalise([s.validation_loss for s in scores])
    n_gap = _normalise([abs(s.gap) if s.gap is not None else None for s in scores])
    n_inst = _normalise([s.instability for s in scores])
    n_conv = _normalise(slopes)
    for s, a, b, c, d in zip(scores, n_val, n_gap, n_inst, n_conv):
        s.score = (WEIGHTS["val"] * a + WEIGHTS["gap"] * b + WEIGHTS["stability"] * c
                   + WEIGHTS["convergence"] * d)
        if s.validation_loss is None:
            s.score += 1.0  # never evaluated: rank after every evaluated checkpoint
    ordered = sorted(scores, key=_order)
    for i, s in enumerate(ordered, 1):
        s.rank = i
    _explain_evaluation(ordered[:top], scores)
    _explain(ordered[:top], scores)
    return ordered


def _order(s: CheckpointScore) -> tuple:
    if s.evaluation is not None:
        return (0, s.evaluation.perplexity, -s.iteration)
    return (1, s.score, -s.iteration)


def _explain_evaluation(top: list[CheckpointScore], everyone: list[CheckpointScore]) -> None:
    """The perplexity reason goes first: it is what ranked an evaluated checkpoint."""
    known = [s.evaluation.perplexity for s in everyone if s.evaluation is not None]
    for s in top:
        if s.evaluation is None:
            if known:
                s.reasons.append("not evaluated: ranked after every evaluated checkpoint")
            continue
        lowest = len(known) > 1 and s.evaluation.perplexity == min(known)
        s.reasons.append(("lowest " if lowest else "") + s.evaluation.words())


def _explain(top: list[CheckpointScore], everyone: list[CheckpointScore]) -> None:
    evaluated = [s for s in everyone if s.validation_loss is not None]
    if not evaluated:
        for s in top:
            s.reasons.append("no validation loss recorded: ranked by recency")
        return
    best_val = min(s.validation_loss for s in evaluated)
    gaps = [abs(s.gap) for s in evaluated if s.gap is not None]
    inst = [s.instability for s in evaluated if s.instability is not None]
    for s in top:
        if s.validation_loss is not None and s.validation_loss == best_val:
            s.reasons.append(f"lowest validation loss ({s.validation_loss:.4f})")
        elif s.validation_loss is not None:
            s.reasons.append(f"validation loss {s.validation_loss:.4f} (+{s.validation_loss - best_val:.4f} vs best)")
        if s.gap is not None and gaps and abs(s.gap) == min(gaps):
            s.reasons.append(f"smallest generalisation gap ({s.gap:+.4f})")
        if s.instability is not None and inst and s.instability == min(inst):
            s.reasons.append("most stable recent training loss")
        if s.validation_loss is None:
            s.reasons.append(NOT_VALIDATED)
        if s.reward_accuracy is not None:
            s.reasons.append(f"val reward accuracy {s.reward_accuracy:.2f}")


def val_reward_accuracy(records: Iterable[dict]) -> dict[int, float]:
    """Preference runs (DPO, ORPO): iteration -> fraction of validation pairs whose chosen answer won."""
    out = {}
    for rec in records:
        it, acc = rec.get("iteration"), _finite(rec.get("val_reward_accuracy"))
        if isinstance(it, int) and acc is not None:
            out[it] = acc
    return out


def detect_overfitting(records: Iterable[dict], threshold: float = 0.3, window: int = 3) -> OverfitSignal:
    """Overfitting when validation rises over the last ``window`` evaluations while training falls,
    or when the latest validation loss is more than ``threshold`` (relative) above the best."""
    train, val = split_series(records)
    if len(val) < 2:
        return OverfitSignal(False, "not enough validations yet")
    best_it, best_v = min(val, key=lambda p: p[1])
    last_it, last_v = val[-1]
    if is_overfitting(last_v, best_v, threshold):
        return OverfitSignal(True, f"validation loss {last_v:.4f} is {100 * (last_v - best_v) / best_v:.0f}% "
                                   f"above the best ({best_v:.4f} at iteration {best_it})", best_it)
    recent = val[-window:]
    rising = len(recent) == window and all(b[1] > a[1] for a, b in zip(recent, recent[1:]))
    if rising:
        first_it = recent[0][0]
        tr_window = [t for it, t in train if it >= first_it]
        if len(tr_window) >= 2 and _slope(tr_window) < 0:
            return OverfitSignal(True, f"validation loss rising since iteration {first_it} while training loss falls",
                                 first_it)
    return OverfitSignal(False, "no sign of overfitting")
