"""What the Training screen knows about the run it shows (no Textual, no I/O).

One :class:`RunView` is fed either by the engine's events (a run trained in this app) or by the run
folder's files (``metrics.jsonl``, ``run.json``, ``log.jsonl``) of a run followed from disk. Both feed
the same metrics records (``Metrics.record()`` is the metrics.jsonl line), so the panel shows the same
numbers either way.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core import events as ev
from forgellm_tui.core.runs import is_overfitting, overfitting_reason
from forgellm_tui.format import progress_line

ACTIVE = ("queued", "starting", "running", "paused", "stopping")


def parse_time(stamp: str | None) -> float | None:
    """``2026-01-15T10:30:00Z`` -> seconds since the epoch (None when missing or malformed)."""
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        else None


@dataclass
class RunView(ev.EventHandler):
    """The state of one run as the user sees it (the log pane reads the run's log.jsonl itself)."""

    run_dir: Path | None = None
    name: str = ""
    source: str = "app"               # "app" (trained here) or "folder" (followed from disk)
    state: str = "idle"
    reason: str = ""
    error: str | None = None
    iteration: int = 0
    max_iterations: int | None = None
    epoch: float | None = None
    eta_seconds: float | None = None
    eta_at: float | None = None       # when eta_seconds was measured (wall clock)
    started_at: float | None = None
    earlier_seconds: float = 0.0      # trained before this session (the checkpoint a resume continues)
    ended_at: float | None = None
    last_train: float | None = None
    best_train: float | None = None
    last_val: float | None = None
    best_val: float | None = None
    best_val_iteration: int | None = None
    tokens_per_second: float | None = None
    trained_tokens: int | None = None
    memory_gb: float | None = None
    gradient_norm: float | None = None
    last_checkpoint: str | None = None
    overfitting: str | None = None
    notice: str | None = None         # e.g. OOM recovery
    startup: str | None = None        # start-up work in progress ("tokenizing: 12,288/51,065 rows …")
    pid: int | None = None
    threshold: float = 0.3            # overfitting_threshold of the run's config
    world_size: int = 1               # ranks of a distributed run (tokens_per_second is their sum)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE

    # ------------------------------------------------------------------ feeding
    def apply_record(self, rec: dict) -> None:
        """One metrics.jsonl record."""
        it = rec.get("iteration")
        if isinstance(it, int):
            self.iteration = max(self.iteration, it)
        if (loss := finite(rec.get("training_loss"))) is not None:
            self.last_train = loss
            self.best_train = loss if self.best_train is None else min(self.best_train, loss)
        if (val := finite(rec.get("validation_loss"))) is not None:
            self.last_val = val
            if isinstance(it, int) and it > 0 and (self.best_val is None or val < self.best_val):
                self.best_val, self.best_val_iteration = val, it
            self._check_overfitting()
        for key, attr in (("tokens_per_second", "tokens_per_second"), ("memory_usage_gb", "memory_gb"),
                          ("gradient_norm", "gradient_norm"), ("epoch", "epoch")):
            if (value := finite(rec.get(key))) is not None:
                setattr(self, attr, value)
        if isinstance(rec.get("trained_tokens"), int):
            self.trained_tokens = rec["trained_tokens"]
        if "eta_seconds" in rec:
            self.eta_seconds = finite(rec.get("eta_seconds"))
            self.eta_at = parse_time(rec.get("timestamp")) or time.time()
        if isinstance(rec.get("max_iterations"), int) and rec["max_iterations"] > 0:
            self.max_iterations = rec["max_iterations"]

    def _check_overfitting(self) -> None:
        if self.best_val is None or self.last_val is None:
            return
        self.overfitting = (overfitting_reason(self.last_val, self.best_val, self.best_val_iteration, self.threshold)
                            if is_overfitting(self.last_val, self.best_val, self.threshold) else None)

    def apply_event(self, event: ev.Event) -> None:
        """One event of a run trained in this app."""
        ev.dispatch(event, self)

    def on_metrics(self, event: ev.Metrics) -> None:
        self.apply_record({**event.record(), "max_iterations": event.max_iterations})

    def on_progress(self, event: ev.Progress) -> None:
        self.startup = progress_line(event) if event.done < event.total else None

    def on_run_started(self, event: ev.RunStarted) -> None:
        self.startup = None
        self.run_dir, self.name = Path(event.run_dir), event.name
        self.max_iterations, self.iteration = event.max_iterations, event.start_iteration
        self.started_at, self.ended_at, self.error = event.time, None, None
        self.earlier_seconds = float(event.earlier_seconds or 0.0)
        if event.checkpoint:
            self.last_checkpoint = f"{event.checkpoint} (resumed)"
        self.world_size = max(int(event.world_size or 1), 1)

    def on_state_changed(self, event: ev.StateChanged) -> None:
        self.state, self.iteration = event.state, max(self.iteration, event.iteration)
        if event.state in ev.FINAL_STATES:
            self.startup = None
            self.reason = event.reason
            self.ended_at, self.eta_seconds = event.time, None
            if event.state == ev.FAILED:
                self.error = event.reason

    def on_validation(self, event: ev.Validation) -> None:
        # the engine's verdict (made with the same rule as apply_record's) for a run trained here
        self.overfitting = (f"validation loss {event.validation_loss:.4f} is well above the best "
                            f"{event.best_loss:.4f} (iteration {event.best_iteration})" if event.overfitting else None)

    def on_checkpoint_saved(self, event: ev.CheckpointSaved) -> None:
        if event.reason != "best":
            self.last_checkpoint = f"{Path(event.path).name} ({event.reason})"

    def on_max_iterations_changed(self, event: ev.MaxIterationsChanged) -> None:
        self.max_iterations = event.max_iterations

    def on_error(self, event: ev.ErrorEvent) -> None:
        if event.recovered:
            self.notice = event.message
        else:
            self.error = event.message

    def apply_info(self, info: dict, alive: bool | None = None) -> None:
        """``run.json`` of a followed run; ``alive`` False turns an active status into ``interrupted``."""
        self.name = str(info.get("name") or self.name)
        status = str(info.get("status") or "unknown")
        self.state = "interrupted" if status in ACTIVE and alive is False else status
        self.reason = str(info.get("stop_reason") or "")
        self.error = info.get("error") or None
        self.pid = info.get("pid") if isinstance(info.get("pid"), int) else None
        self.started_at = parse_time(info.get("started_at"))
        self.earlier_seconds = finite(info.get("earlier_seconds")) or 0.0
        self.ended_at = parse_time(info.get("ended_at")) if not self.is_active else None
        if isinstance(info.get("max_iterations"), int):
            self.max_iterations = info["max_iterations"]
        if isinstance(info.get("iteration"), int):
            self.iteration = max(self.iteration, info["iteration"])
        if info.get("last_checkpoint"):
            self.last_checkpoint = str(info["last_checkpoint"])
        distributed = info.get("distributed")
        if isinstance(distributed, dict) and isinstance(distributed.get("world_size"), int):
            self.world_size = max(distributed["world_size"], 1)
        if not self.is_active:
            self.eta_seconds = None

    # ------------------------------------------------------------------ derived
    def elapsed(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else (now or time.time())
        return self.earlier_seconds + max(end - self.started_at, 0.0)

    def eta(self, now: float | None = None) -> float | None:
        if not self.is_active or self.eta_seconds is None:
            return None
        since = (now or time.time()) - self.eta_at if self.eta_at else 0.0
        return max(self.eta_seconds - max(since, 0.0), 0.0)

    def perplexity(self) -> tuple[str, float] | None:
        """exp(loss) of the last validation loss (else the last training loss)."""
        for label, loss in (("val", self.last_val), ("train", self.last_train)):
            if loss is not None:
                return label, math.exp(min(loss, 50.0))
        return None
