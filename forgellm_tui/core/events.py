"""Events the training engine emits through its ``on_event`` callback (frozen dataclasses).

The callback runs in the training thread; a UI should only hand the event over (e.g. Textual's
``post_message``). ``Metrics.record()`` is exactly the line written to ``metrics.jsonl``, so a run
followed from disk and a run followed live see the same data.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

#: run states, in run.json and StateChanged
STARTING, RUNNING, PAUSED, STOPPING, FINISHED, STOPPED, FAILED = (
    "starting", "running", "paused", "stopping", "finished", "stopped", "failed")
FINAL_STATES = (FINISHED, STOPPED, FAILED)
#: the fields of one metrics.jsonl record, in order (the original ForgeLLM's + trained_tokens, epoch, eta_seconds)
METRIC_FIELDS = ("iteration", "timestamp", "training_loss", "validation_loss", "learning_rate",
                 "tokens_per_second", "memory_usage_gb", "gpu_utilization", "gradient_norm",
                 "trained_tokens", "epoch", "eta_seconds")


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    """Base class; ``time`` is the wall-clock time it was emitted."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["event"] = type(self).__name__
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


@dataclass(frozen=True)
class RunStarted(Event):
    run_dir: Path
    name: str
    training_type: str
    fine_tune_type: str
    start_iteration: int          # 0, or the checkpoint a resume continues from
    max_iterations: int
    train_examples: int           # rows after packing
    valid_examples: int
    train_tokens: int
    trainable_parameters: int
    total_parameters: int
    resumed: bool = False
    world_size: int = 1           # ranks of a distributed run (tokens_per_second is their sum)
    checkpoint: str = ""          # the checkpoint a resume continues from (its folder name)
    earlier_seconds: float = 0.0  # training time before this session, from that checkpoint
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class Metrics(Event):
    """One metrics record (every ``steps_per_report`` steps, and after each validation)."""

    iteration: int
    timestamp: str                # ISO 8601, UTC
    training_loss: float | None   # mean over the report window; None on a validation-only record
    validation_loss: float | None
    learning_rate: float
    tokens_per_second: float | None
    memory_usage_gb: float
    gpu_utilization: float | None
    gradient_norm: float | None
    trained_tokens: int
    epoch: float
    eta_seconds: float | None
    max_iterations: int = 0
    time: float = field(default_factory=_now)
    #: the objective's own metrics (DPO, ORPO: rewards, margin, accuracy …; ``val_`` ones from validation),
    #: written after METRIC_FIELDS on the record; empty for CPT and IFT
    extra: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The metrics.jsonl line (the original ForgeLLM's fields plus trained_tokens, epoch, eta_seconds)."""
        return {**{k: getattr(self, k) for k in METRIC_FIELDS}, **self.extra}


@dataclass(frozen=True)
class Validation(Event):
    iteration: int
    validation_loss: float | None  # None: the pass had no loss-bearing token
    best_loss: float
    best_iteration: int
    is_best: bool
    overfitting: bool             # loss above best by more than overfitting_threshold
    evaluations_without_improvement: int
    seconds: float
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class CheckpointSaved(Event):
    iteration: int
    path: Path
    reason: str                   # "periodic", "manual", "stop", "final", "best", "early-stop"
    validation_loss: float | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class Samples(Event):
    """What the model says now: the records just appended to ``samples.jsonl`` at ``iteration``
    (each ``{"iteration", "prompt", "text", "time"}``, one per sample prompt)."""

    iteration: int
    records: tuple
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class StateChanged(Event):
    state: str                    # starting/running/paused/stopping/finished/stopped/failed
    iteration: int
    reason: str = ""
    cause: str = ""               # an ended run's stop_cause (core/runs/stop_cause.py); "" otherwise
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class EarlyStop(Event):
    iteration: int
    reason: str
    best_iteration: int
    best_loss: float
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class LogLine(Event):
    level: str                    # "info", "warning", "error"
    message: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class Progress(Event):
    """Start-up work that takes a while (``task`` "tokenizing"): ``done`` of ``total`` ``unit``,
    the rate so far and the time left. Emitted at most twice a second, and once when done."""

    task: str
    done: int
    total: int
    unit: str = "rows"
    per_second: float | None = None
    eta_seconds: float | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ErrorEvent(Event):
    message: str
    kind: str = "error"           # "error" (run fails) or "oom" (recovered: smaller batch)
    recovered: bool = False
    iteration: int = 0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class MaxIterationsChanged(Event):
    max_iterations: int
    iteration: int
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class SettingChanged(Event):
    """A live change applied between steps (``core.training.live``); ``iteration``: steps done when applied."""

    iteration: int
    key: str
    old: Any
    new: Any
    time: float = field(default_factory=_now)


EventCallback = Callable[[Event], None]


class EventHandler:
    """What to do with each kind of event: override the ``on_*`` methods a consumer cares about (the
    others do nothing) and hand events to :func:`dispatch`. The status panel's run view, the Training
    screen and the headless progress printer are such handlers, so every kind is routed in one place."""

    def on_run_started(self, event: RunStarted) -> None:
        pass

    def on_metrics(self, event: Metrics) -> None:
        pass

    def on_validation(self, event: Validation) -> None:
        pass

    def on_checkpoint_saved(self, event: CheckpointSaved) -> None:
        pass

    def on_samples(self, event: Samples) -> None:
        pass

    def on_state_changed(self, event: StateChanged) -> None:
        pass

    def on_early_stop(self, event: EarlyStop) -> None:
        pass

    def on_log_line(self, event: LogLine) -> None:
        pass

    def on_progress(self, event: Progress) -> None:
        pass

    def on_error(self, event: ErrorEvent) -> None:
        pass

    def on_max_iterations_changed(self, event: MaxIterationsChanged) -> None:
        pass

    def on_setting_changed(self, event: SettingChanged) -> None:
        pass

    def on_other(self, event: Event) -> None:
        """An event of a kind not listed above: ignored (a newer engine may emit kinds this code predates)."""


def dispatch(event: Event, handler: EventHandler) -> None:
    """Call the ``handler`` method for ``event``'s kind."""
    match event:
        case RunStarted():
            handler.on_run_started(event)
        case Metrics():
            handler.on_metrics(event)
        case Validation():
            handler.on_validation(event)
        case CheckpointSaved():
            handler.on_checkpoint_saved(event)
        case Samples():
            handler.on_samples(event)
        case StateChanged():
            handler.on_state_changed(event)
        case EarlyStop():
            handler.on_early_stop(event)
        case LogLine():
            handler.on_log_line(event)
        case Progress():
            handler.on_progress(event)
        case ErrorEvent():
            handler.on_error(event)
        case MaxIterationsChanged():
            handler.on_max_iterations_changed(event)
        case SettingChanged():
            handler.on_setting_changed(event)
        case _:
            handler.on_other(event)
