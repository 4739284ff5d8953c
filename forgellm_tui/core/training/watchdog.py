"""The loss watchdog: stop a run whose training has gone bad before it wastes hours or saves bad weights.

Two rules, both on by default (``watchdog: false`` turns them off):

- a non-finite training loss or gradient norm after a step stops the run at once: that step's
  update already put the bad values into the weights, so they are never saved;
- a training loss (the mean of a report) above ``watchdog_factor`` x the median of the last
  ``WINDOW`` healthy reports, for ``watchdog_patience`` reports in a row, stops the run. While such
  a streak lasts, periodic checkpoints are skipped, so the newest checkpoint is one from before it.
  The median needs ``MIN_REPORTS`` healthy reports first (the first reports of a run fall fast).

The defaults (factor 4, patience 3) only catch a run that diverges: a loss four times its recent
median three reports running is not noise. A resumed run continues the watchdog's history from the
checkpoint (``state``/``load``), so it decides exactly like the run not interrupted.
"""

from __future__ import annotations

import math
import statistics

#: healthy report losses the rolling median is taken over
WINDOW = 20
#: healthy reports needed before the spike rule applies
MIN_REPORTS = 5


class Watchdog:
    def __init__(self, enabled: bool, factor: float, patience: int):
        self.enabled, self.factor, self.patience = enabled, factor, patience
        self.history: list[float] = []
        self.streak = 0
        self.reason = ""  # why the run must stop; "" while all is well

    @property
    def suspect(self) -> bool:
        """A spike streak is under way: the weights of now are not worth a periodic checkpoint."""
        return self.enabled and self.streak > 0

    def step(self, iteration: int, loss: float | None, norm: float | None) -> str:
        """After each step: the reason to stop when the loss or gradient norm is not finite, else ''."""
        if not self.enabled:
            return ""
        for what, value in (("training loss", loss), ("gradient norm", norm)):
            if value is not None and not math.isfinite(value):
                self.reason = f"{what} is {value} at iteration {iteration}"
                return self.reason
        return ""

    def report(self, iteration: int, loss: float | None) -> str:
        """After each metrics report: the reason to stop after ``patience`` spikes in a row, else ''."""
        if not self.enabled or loss is None:
            return ""
        median = statistics.median(self.history) if len(self.history) >= MIN_REPORTS else None
        if median is not None and median > 0 and loss > self.factor * median:
            self.streak += 1
            if self.streak >= self.patience:
                self.reason = (f"training loss {loss:.4f} at iteration {iteration} is above {self.factor:g} x its "
                               f"median {median:.4f} for {self.streak} reports in a row")
            return self.reason
        self.streak = 0
        self.history = (self.history + [loss])[-WINDOW:]
        return ""

    def spike_note(self) -> str:
        return f"report {self.streak} of {self.patience} with the training loss above {self.factor:g} x its median"

    def state(self) -> dict:
        return {"history": list(self.history), "streak": self.streak}

    def load(self, state: dict | None) -> None:
        if not isinstance(state, dict):
            return
        self.history = [float(x) for x in state.get("history") or []][-WINDOW:]
        self.streak = int(state.get("streak") or 0)
