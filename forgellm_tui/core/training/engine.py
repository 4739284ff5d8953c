"""The training engine: ``train`` and its ``RunResult``.

``train(config, on_event, control, resume_from)`` runs in the calling thread (the TUI calls it in a
thread worker, the CLI in the main thread) and returns a ``RunResult``. Bad input raises a
``ForgeError`` before any work; a failure during training is recorded (``run.json`` says failed,
``error.log`` holds the traceback) and returned as ``status == "failed"``. An out-of-memory error
(from MLX, or a batch that ``memory_guard`` finds too large for the memory this process may use)
halves the batch size, doubles gradient accumulation, reloads the last checkpoint and goes on; at
batch size 1 the run fails with the reason.

The way from the config to an open run folder (checks, resume point, tokenized data) is
``prepare.py``; this module runs the ``Session`` (``loop.py``) in it and records how it ended.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

from forgellm_tui.format import human_count
from forgellm_tui.core.runs import stop_cause
from forgellm_tui.core import events as ev
from forgellm_tui.core import fsio
from forgellm_tui.core.config import IGNORED_KEYS, SHAPE_FIELDS, ConfigFieldError, TrainingConfig
from forgellm_tui.core.distributed import SINGLE, World
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs import CONFIG, RunFolder, latest_checkpoint, resumable, truncate_samples
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.data import tokenized_data
from forgellm_tui.core.training.memory_report import announce_estimate, record_peak
from forgellm_tui.core.training.prepare import (Plan, initial_weights, open_distributed, open_run, record_resume,
                                                run_length)
from forgellm_tui.core.training.setup import adapter_config

# MLX's messages for a failed allocation: Metal's "[metal::malloc] Unable to allocate N bytes",
# "Attempting to allocate N bytes which is greater than the maximum allowed buffer size", a command
# buffer's "Insufficient Memory"; C++'s std::bad_alloc; MemoryError from core/memory_guard.py.
OOM_PATTERNS = ("out of memory", "insufficient memory", "resource limit", "bad_alloc", "outofmemory",
                "failed to allocate", "cannot allocate memory", "unable to allocate", "maximum allowed buffer size")


@dataclass
class RunResult:
    status: str                          # finished / stopped / failed
    run_dir: Path
    iteration: int = 0
    max_iterations: int = 0
    reason: str = ""                     # why it stopped (user, signal, early stop …)
    error: str | None = None
    best_iteration: int | None = None
    best_validation_loss: float | None = None
    last_training_loss: float | None = None
    trained_tokens: int = 0
    seconds: float = 0.0
    oom_recoveries: list[dict] = field(default_factory=list)


def is_oom(exc: BaseException) -> bool:
    """The backend's out-of-memory error (MemoryError, or a RuntimeError saying so)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(p in str(exc).lower() for p in OOM_PATTERNS)


class _Context:
    """What a session needs from the run: config, data, run folder, events, control."""

    def __init__(self, cfg: TrainingConfig, plan: Plan, run: RunFolder, on_event, control, fault_hook,
                 world: World = SINGLE):
        self.cfg, self.plan, self.run, self.control, self.fault_hook = cfg, plan, run, control, fault_hook
        self.world = world
        self._on_event = on_event
        self.train_data = self.valid_data = None
        self.schedule_steps = self.max_iterations = self.start_iteration = 0
        self.adapter_config = adapter_config(cfg, plan.model_path)
        self.shape = {k: getattr(cfg, k) for k in SHAPE_FIELDS}
        self.initial_weights = None
        self.data_notes: list[tuple[str, str]] = []  # (level, line) about the data, for the run's log
        self.resuming = False  # --resume: from the newest checkpoint, or from 0 when the run has none
        self.state = ev.STARTING
        self.session = None  # the live training Session (loop.py), once built
        self.resume_keys: set[str] | None = None  # keys the resume changed (live.py computes them once)

    def emit(self, event: ev.Event) -> None:
        _emit_to(self._on_event, event)

    def log(self, level: str, message: str) -> None:
        self.run.log(level, message)
        self.emit(ev.LogLine(level, message))

    def set_state(self, state: str, iteration: int, reason: str = "") -> None:
        self.state = state
        self.run.update(status=state, iteration=iteration)
        self.emit(ev.StateChanged(state, iteration, reason))

    def set_max_iterations(self, n: int) -> None:
        self.max_iterations = n
        self.cfg = replace(self.cfg, max_iterations=n, epochs=None, workspace=self.cfg.workspace)
        if self.world.is_main:
            fsio.atomic_write_text(self.run.path / CONFIG, self.cfg.to_yaml())
        self.run.update(max_iterations=n)
        self.log("info", f"max_iterations is now {n:,}")
        self.emit(ev.MaxIterationsChanged(n, self.run.info.get("iteration", 0)))


def _emit_to(on_event, event: ev.Event) -> None:
    if on_event is None:
        return
    try:
        on_event(event)
    except Exception:  # noqa: BLE001 - a broken listener must not kill the run
        traceback.print_exc(file=sys.stderr)


def train(config: TrainingConfig, on_event: Callable[[ev.Event], None] | None = None,
          control: TrainingControl | None = None, resume_from: Path | None = None, *,
          run_dir: Path | None = None, fault_hook: Callable[[int], None] | None = None,
          world: World | None = None, batch: tuple[int, int] | None = None,
          on_open: Callable[[Path], None] | None = None) -> RunResult:
    """Train to the end (or until stopped). ``run_dir``: a folder made by ``prepare_run``.

    ``fault_hook(iteration)`` is called before each step (tests inject errors with it). ``world``:
    this rank of a distributed run (``distributed.init_world``); rank 0 writes the run folder.
    ``batch``: ``(batch_size, grad_accumulation_steps)`` to continue with instead of the checkpoint's
    (a restart after the process was killed for memory). ``on_open(run_dir)``: called once the run
    folder is created or opened and locked (a supervising parent learns where the run writes).
    """
    if world is None and config.distributed:
        raise ConfigFieldError({"distributed": "a run on several machines starts its ranks with mlx.launch — run "
                                              "forgellm-tui train CONFIG (or start it in the background)"},
                               path=config.source)
    control = control or TrainingControl()
    started = time.perf_counter()
    cleanup = data = None
    if world is not None and world.is_distributed:
        cfg, plan, run, checkpoint, control, cleanup = open_distributed(world, config, control, resume_from, run_dir)
    else:
        world = SINGLE
        cfg, plan, run, checkpoint, data = open_run(config, resume_from, run_dir, batch, partial(_emit_to, on_event))
    try:
        if on_open is not None:
            on_open(run.path)
        ctx = _Context(cfg, plan, run, on_event, control, fault_hook, world)
        ctx.resuming = resume_from is not None
        if data is not None:
            ctx.train_data, ctx.valid_data, ctx.data_notes = data
        return _run(ctx, checkpoint, started)
    finally:
        run.close()
        run.release_space()
        run.unlock()
        if cleanup is not None:
            cleanup()


def _run(ctx: _Context, checkpoint: Path | None, started: float) -> RunResult:
    result = RunResult(ev.FAILED, ctx.run.path)
    try:
        _announce(ctx, checkpoint)
        _load_data(ctx, checkpoint)
        outcome = _train_until_done(ctx, checkpoint, result)
        result.status, result.reason, result.iteration = outcome.status, outcome.reason, outcome.iteration
        ctx.log("info", f"{outcome.status} at iteration {outcome.iteration}"
                + (f": {outcome.reason}" if outcome.reason else ""))
        ctx.run.ended(outcome.status, outcome.cause, iteration=outcome.iteration, stop_reason=outcome.reason or None)
        ctx.emit(ev.StateChanged(outcome.status, outcome.iteration, outcome.reason, outcome.cause))
    except ForgeError as exc:
        _failed(ctx, result, ctx.session, str(exc), None, stop_cause.ERROR)
        raise
    except KeyboardInterrupt:
        _aborted(ctx, result, ctx.session)
        raise
    except BaseException as exc:  # noqa: BLE001 - recorded, then reported as a failed result
        _failed(ctx, result, ctx.session, failure_message(exc, ctx.run.path), traceback.format_exc(),
                stop_cause.OOM if is_oom(exc) else stop_cause.ERROR)
        if isinstance(exc, SystemExit):
            raise
    finally:
        _sum_up(ctx, result, started)
    return result


def _announce(ctx: _Context, checkpoint: Path | None) -> None:
    """``starting`` in run.json with this process's pid, and the first log lines."""
    run, cfg = ctx.run, ctx.cfg
    # this process's pid tells listings the run is starting (not interrupted); a resume keeps
    # the iteration the run reached until it really continues
    run.info.update(pid=os.getpid(), host=socket.gethostname())
    ctx.set_state(ev.STARTING, int(run.info.get("iteration") or 0) if ctx.resuming else 0)
    ctx.log("info", (f"resuming from checkpoint {checkpoint.name}: " if checkpoint else
                     "starting again from iteration 0 (no checkpoint yet): " if ctx.resuming else "starting: ")
            + f"{cfg.training_type} {cfg.fine_tune_type} on {cfg.model}")
    for line in unused_key_warnings(cfg):
        ctx.log("warning", line)
    if checkpoint is not None:
        for note in resumable(run.path)[1]:
            ctx.log("warning", f"{note}: resuming from checkpoint {checkpoint.name}")


def _train_until_done(ctx: _Context, checkpoint: Path | None, result: RunResult):
    """The session's outcome; out of memory, the batch is halved and training goes on from the last checkpoint."""
    from forgellm_tui.core.training.loop import Session

    while True:
        try:
            if ctx.session is None:
                ctx.session = Session(ctx, checkpoint)
                _started(ctx, ctx.session, checkpoint)
            return ctx.session.run()
        except Exception as exc:  # noqa: BLE001
            if not is_oom(exc) or ctx.world.is_distributed:  # ranks cannot change the batch alone
                raise
            if ctx.cfg.batch_size < 2:  # halving ends here, so the retries are bounded
                raise MemoryError(f"out of memory at batch_size 1 after {len(result.oom_recoveries)} "
                                  f"halvings; lower max_seq_length or use a smaller model — {exc}") from exc
            iteration = ctx.session.iteration if ctx.session is not None else 0
            ctx.session = None
            gc.collect()
            checkpoint = _recover_from_oom(ctx, exc, iteration, result)


def _sum_up(ctx: _Context, result: RunResult, started: float) -> None:
    """The session's figures into the result; then the session is freed and MLX's work finished."""
    session, ctx.session = ctx.session, None
    record_peak(ctx)
    result.seconds = time.perf_counter() - started
    result.max_iterations = ctx.max_iterations
    if session is not None:
        result.trained_tokens = session.trained_tokens
        result.last_training_loss = session.last_train_loss
        result.best_iteration = session.tracker.best_iteration if session.tracker.best_iteration > 0 else None
        result.best_validation_loss = session.tracker.state()["best_loss"]
    del session
    gc.collect()
    _synchronize()


def unused_key_warnings(cfg: TrainingConfig) -> list[str]:
    """One line per config key this trainer accepts but does not act on (mlx-lm's ``test``, ``report_to`` …)."""
    lines = []
    for key, value in cfg.extra.items():
        if key == "train" and value in (True, None):  # training is what this does anyway
            continue
        lines.append(f"config key {key!r} is not used by this trainer ({IGNORED_KEYS.get(key, 'no effect')}); "
                     "remove it to silence this line")
    return lines


def _synchronize() -> None:
    """Finish pending MLX work before the caller's thread ends: left pending, it can crash the process at exit."""
    mx = sys.modules.get("mlx.core")
    if mx is not None:
        try:
            mx.synchronize()
        except Exception:  # noqa: BLE001
            pass


def _load_data(ctx: _Context, checkpoint: Path | None) -> None:
    cfg, plan = ctx.cfg, ctx.plan
    if ctx.train_data is None:  # a distributed rank tokenizes once its folder is open
        ctx.train_data, ctx.valid_data, ctx.data_notes = tokenized_data(cfg, plan, ctx.emit)
    for level, line in ctx.data_notes:
        ctx.run.log(level, line)
        if level != "info":
            ctx.emit(ev.LogLine(level, line))
    train, valid = ctx.train_data, ctx.valid_data
    if len(valid) == 0 or cfg.val_batches == 0:
        ctx.log("warning", "no validation data: no validation loss, best checkpoint or early stopping")
    ctx.max_iterations, ctx.schedule_steps = run_length(cfg, len(train), checkpoint)
    ctx.initial_weights = initial_weights(cfg, plan, checkpoint)
    announce_estimate(ctx)


def _started(ctx: _Context, session, checkpoint: Path | None) -> None:
    run = ctx.run
    ctx.start_iteration = session.iteration
    dropped = run.truncate_metrics(session.iteration if checkpoint is not None else -1)
    if ctx.world.is_main:  # samples after the checkpoint belong to training that is done again now
        truncate_samples(run.path, session.iteration if checkpoint is not None else -1)
    if ctx.resuming:
        changed = record_resume(run, ctx.cfg, session.iteration, checkpoint, dropped, ctx.world.is_main)
        if changed:
            ctx.log("info", changed)
    earlier = session.elapsed if checkpoint is not None else 0.0
    run.started(ctx.max_iterations, earlier)
    ctx.emit(ev.RunStarted(run.path, run.path.name, ctx.cfg.training_type, ctx.cfg.fine_tune_type, session.iteration,
                           ctx.max_iterations, len(ctx.train_data), len(ctx.valid_data), ctx.train_data.tokens,
                           session.trainable, session.total, resumed=ctx.resuming,
                           world_size=ctx.world.size, checkpoint=checkpoint.name if checkpoint else "",
                           earlier_seconds=earlier))
    ctx.log("info", f"training iterations {session.iteration:,}→{ctx.max_iterations:,} on {len(ctx.train_data):,} rows "
                    f"({human_count(ctx.train_data.tokens)} tokens), {human_count(session.trainable)} of "
                    f"{human_count(session.total)} parameters trained"
                    + (f", {ctx.world.size} ranks" if ctx.world.size > 1 else ""))
    ctx.set_state(ev.RUNNING, session.iteration)


def _recover_from_oom(ctx: _Context, exc: BaseException, iteration: int, result: RunResult) -> Path | None:
    cfg = ctx.cfg
    new_cfg = replace(cfg, batch_size=cfg.batch_size // 2, grad_accumulation_steps=cfg.grad_accumulation_steps * 2)
    checkpoint = latest_checkpoint(ctx.run.path)
    event = {"iteration": iteration, "error": str(exc)[:300], "batch_size": new_cfg.batch_size,
             "grad_accumulation_steps": new_cfg.grad_accumulation_steps,
             "restarted_from": checkpoint.name if checkpoint else "start"}
    result.oom_recoveries.append(event)
    ctx.run.info.setdefault("oom_recoveries", []).append(event)
    ctx.cfg = new_cfg
    ctx.adapter_config = adapter_config(new_cfg, ctx.plan.model_path)
    fsio.atomic_write_text(ctx.run.path / CONFIG, new_cfg.to_yaml())
    message = (f"out of memory at iteration {iteration}: batch_size {cfg.batch_size} -> {new_cfg.batch_size}, "
               f"grad_accumulation_steps {cfg.grad_accumulation_steps} -> {new_cfg.grad_accumulation_steps} "
               f"(same effective batch); continuing from {event['restarted_from']}")
    ctx.log("warning", message)
    ctx.emit(ev.ErrorEvent(message, kind="oom", recovered=True, iteration=iteration))
    import mlx.core as mx

    mx.clear_cache()
    return checkpoint


def _aborted(ctx: _Context, result: RunResult, session) -> None:
    """A second Ctrl-C: no checkpoint for the current step; earlier ones stay resumable."""
    iteration = session.iteration if session is not None else ctx.run.info.get("iteration", 0)
    reason = "aborted with Ctrl-C (resume continues from the last checkpoint)"
    result.status, result.reason, result.iteration = ev.STOPPED, reason, iteration
    try:
        ctx.log("warning", f"stopped at iteration {iteration}: {reason}")
    except OSError:
        pass
    ctx.run.ended(ev.STOPPED, stop_cause.SIGNAL, iteration=iteration, stop_reason=reason)
    ctx.emit(ev.StateChanged(ev.STOPPED, iteration, reason, stop_cause.SIGNAL))


def failure_message(exc: BaseException, run_dir: Path) -> str:
    """One line for run.json and the user; a full disk says so and how to go on."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" while writing {exc.filename}" if exc.filename else ""
        return (f"the disk is full{where} (No space left on device) — free some space, then continue with "
                f"forgellm-tui train --resume {run_dir}")
    return f"{type(exc).__name__}: {exc}"


def _record_failure(ctx: _Context, iteration: int, message: str, tb: str | None, cause: str) -> None:
    """run.json first (the status users see), then error.log and the log line."""
    ctx.run.close()  # a full disk may have left an appender mid-line
    ctx.run.ended(ev.FAILED, cause, error=message, iteration=iteration)
    if tb and ctx.world.is_main:
        fsio.atomic_write_text(ctx.run.path / "error.log", tb)
    ctx.run.log("error", message)
    ctx.run.close()


def _failed(ctx: _Context, result: RunResult, session, message: str, tb: str | None, cause: str) -> None:
    iteration = session.iteration if session is not None else ctx.run.info.get("iteration", 0)
    result.status, result.error, result.iteration = ev.FAILED, message, iteration
    try:
        _record_failure(ctx, iteration, message, tb, cause)
    except (OSError, ForgeError):
        ctx.run.release_space()  # the disk is full: the reserved space holds these few small files
        try:
            _record_failure(ctx, iteration, message, tb, cause)
        except (OSError, ForgeError):
            traceback.print_exc(file=sys.stderr)
    ctx.emit(ev.LogLine("error", message))
    ctx.emit(ev.ErrorEvent(message, kind="error", recovered=False, iteration=iteration))
    ctx.emit(ev.StateChanged(ev.FAILED, iteration, message, cause))
