"""Best validation loss, overfitting signal and early stopping (the original ForgeLLM's rules, made explicit).

- best: the lowest validation loss after training started (the untrained iteration-0 loss is a
  baseline shown in the metrics, not a checkpoint candidate);
- improvement: a decrease of more than ``min_loss_improvement`` below the best;
- overfitting: validation loss above the best by more than ``overfitting_threshold`` (relative),
  decided by ``core.runs.ranking.is_overfitting``;
- early stop (when enabled): overfitting, or ``early_stopping_patience`` evaluations in a row
  without improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forgellm_tui.core.runs import is_overfitting, overfitting_reason


@dataclass
class Verdict:
    is_best: bool
    improved: bool
    overfitting: bool
    stop: bool
    reason: str


class BestTracker:
    def __init__(self, patience: int, min_improvement: float, threshold: float, enabled: bool):
        self.patience, self.min_improvement, self.threshold, self.enabled = patience, min_improvement, threshold, enabled
        self.best_loss = math.inf
        self.best_iteration = -1
        self.since_improvement = 0

    def update(self, iteration: int, loss: float | None) -> Verdict:
        """``loss`` None: the validation pass had no loss-bearing token; it never becomes best."""
        if iteration <= 0 or loss is None or not math.isfinite(loss):
            return Verdict(False, False, False, False, "")
        first = self.best_iteration < 0
        is_best = loss < self.best_loss
        improved = first or loss < self.best_loss - self.min_improvement
        overfitting = not first and is_overfitting(loss, self.best_loss, self.threshold)
        self.since_improvement = 0 if improved else self.since_improvement + 1
        if is_best:
            self.best_loss, self.best_iteration = loss, iteration
        reason = ""
        if overfitting:
            reason = overfitting_reason(loss, self.best_loss, self.best_iteration, self.threshold)
        elif self.since_improvement >= self.patience:
            reason = (f"no validation improvement greater than {self.min_improvement:g} in "
                      f"{self.since_improvement} evaluations (best {self.best_loss:.4f} at iteration "
                      f"{self.best_iteration})")
        return Verdict(is_best, improved, overfitting, self.enabled and bool(reason), reason)

    def state(self) -> dict:
        return {"best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
                "best_iteration": self.best_iteration, "since_improvement": self.since_improvement}

    def load(self, state: dict | None) -> None:
        if not state:
            return
        loss = state.get("best_loss")
        self.best_loss = float(loss) if isinstance(loss, (int, float)) else math.inf
        self.best_iteration = int(state.get("best_iteration", -1))
        self.since_improvement = int(state.get("since_improvement", 0))
