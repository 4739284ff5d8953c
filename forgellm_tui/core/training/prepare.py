"""From a config to an open run folder: the one way every training run starts.

``open_run`` (one process), ``open_distributed`` (one rank of several) and ``prepare_run`` (the
folder of a run started in the background) take the same steps, in this order:

1. lock the existing folder a resume (or a ``prepare_run`` folder) writes   ``lock_existing``
2. the resume point, and the config the run continues with                 ``resume_config``
3. check model, data and sizes, with nothing written yet (``preflight.py``) ``preflight``, ``check_model``
4. tokenize the data, still before anything is written                     ``tokenized_data``
5. open the run folder: the existing one, or a new one, locked             ``open_folder``

(A distributed rank tokenizes after step 5: every rank must first pass the start-up gate.) The
engine then builds the training ``Session``, which loads the checkpoint's weights, optimizer state
and data position; once it runs, ``record_resume`` notes in ``run.json`` what a resume continued
from and which settings it changed.
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import replace
from pathlib import Path
from typing import Callable

from forgellm_tui.core import events as ev
from forgellm_tui.core import fsio
from forgellm_tui.core.config import TrainingConfig, load_config
from forgellm_tui.core.errors import ConfigError, ForgeError
from forgellm_tui.core.distributed import NullRunFolder, SyncedControl, World, share_checkpoint
from forgellm_tui.core.runs import stop_cause
from forgellm_tui.core.runs import (ADAPTERS, CONFIG, RUN_JSON, STATE, RunFolder, RunLock, RunLocked, choose_run_dir,
                                    checkpoint_damage, failure_reason, missing_folders, read_run, read_state,
                                    register, remove_leftovers, resumable)
from forgellm_tui.core.training.data import tokenized_data
from forgellm_tui.core.training.preflight import (Plan, check_model, check_output, check_resume_changes,
                                                  check_resume_state, check_shape, config_changes, iterations_for,
                                                  preflight)
from forgellm_tui.core.training.rank import check_divisible, host_list, share_config


# --------------------------------------------------------------------------- the ways in

def open_run(config: TrainingConfig, resume_from: Path | None, run_dir: Path | None,
             batch: tuple[int, int] | None = None, emit: Callable[[ev.Event], None] = lambda event: None):
    """``(cfg, plan, run, checkpoint, data)`` of a single-process run; the run folder is locked until
    ``run.unlock()``. ``data = tokenized_data(...)`` is made before a new folder is created, so input
    it refuses leaves nothing behind; ``emit`` receives its progress and log lines."""
    try:
        return _open_run(config, resume_from, run_dir, batch, emit)
    except ForgeError as exc:
        if run_dir is not None and resume_from is None:
            _refused_before_start(Path(run_dir), exc)
        raise


def _open_run(config: TrainingConfig, resume_from: Path | None, run_dir: Path | None, batch, emit):
    lock = lock_existing(resume_from, run_dir)
    try:
        cfg, run_dir, checkpoint = resume_config(config, resume_from, run_dir, batch)
        plan = preflight(cfg)
        check_model(plan)
        check_resume_state(cfg, plan, checkpoint)
        data = tokenized_data(cfg, plan, emit)
        run = open_folder(cfg, plan, run_dir, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return cfg, plan, run, checkpoint, data


def open_distributed(world: World, config: TrainingConfig, control, resume_from: Path | None,
                     run_dir: Path | None):
    """``(cfg, plan, run, checkpoint, control, cleanup)`` for this rank; ForgeError before any work."""
    cfg, checkpoint, plan, error, lock = config, None, None, None, None
    try:
        if world.is_main:  # rank 0 writes the run folder: it holds the lock before the gate
            lock = lock_existing(resume_from, run_dir)
            cfg, run_dir, checkpoint = resume_config(config, resume_from, run_dir)
        check_divisible(cfg, world.size)
        plan = preflight(cfg)
        check_model(plan)
        check_resume_state(cfg, plan, checkpoint)
    except Exception as exc:  # noqa: BLE001 - shared with the other ranks, then raised
        error = exc
    try:
        world.check_ready(error)
        cfg = share_config(world, cfg)
        checkpoint, cleanup = share_checkpoint(world, checkpoint)
        if world.is_main:
            run = open_folder(cfg, plan, run_dir, lock)
            hosts = [h.get("name") for h in host_list(cfg)] or None
            run.update(distributed={"world_size": world.size, "backend": world.backend, "hosts": hosts,
                                    "rank0_host": socket.gethostname()})
        else:
            run = NullRunFolder(Path(run_dir) if run_dir else Path(f"rank-{world.rank}"), {})
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return cfg, plan, run, checkpoint, SyncedControl(world, control), cleanup


def prepare_run(config: TrainingConfig, status: str = "queued") -> Path:
    """Check everything and create the run folder (``config.yaml`` + ``run.json``); for detached runs."""
    plan = preflight(config)
    check_model(plan)
    run_dir = choose_run_dir(config, plan.settings)
    check_output(config, run_dir)
    create_locked(run_dir, config, status).unlock()  # the process that trains takes the lock again
    register(plan.settings, run_dir)
    return run_dir


# --------------------------------------------------------------------------- the resume point

RESUME_HINT = "pass a run folder (models/cpt/<run>) or one of its checkpoints (<run>/checkpoints/<iteration>)"


def resume_target(path: Path) -> Path:
    """The run folder ``--resume PATH`` means: PATH itself, or the run a checkpoint folder belongs to."""
    path = Path(path).expanduser().resolve()
    if (path / RUN_JSON).is_file():
        return path
    run_dir = path.parent.parent
    if path.parent.name == "checkpoints" and (run_dir / RUN_JSON).is_file():
        if not (path / STATE).is_file():
            raise ConfigError(f"checkpoint is incomplete (no {STATE})", path=path,
                              hint="resume from the run folder (its newest complete checkpoint) or another checkpoint")
        return run_dir
    if (path.parent / RUN_JSON).is_file():
        raise ConfigError("not a checkpoint a run can continue from", path=path, hint=RESUME_HINT)
    if not path.exists():
        raise ConfigError("run folder not found", path=path, hint=RESUME_HINT)
    raise ConfigError(f"not a run folder (no {RUN_JSON})", path=path, hint=RESUME_HINT)


def resume_point(resume_from: Path) -> tuple[Path, Path | None]:
    """``(run_dir, checkpoint)`` for a run folder (newest complete checkpoint) or a checkpoint folder.

    A run that has no checkpoint yet (killed or stopped before its first one) starts again from
    iteration 0 in its own folder: ``checkpoint`` is None.
    """
    resume_from = Path(resume_from).expanduser().resolve()
    run_dir = resume_target(resume_from)
    if run_dir != resume_from:
        problem = checkpoint_damage(resume_from)
        if problem is not None:
            raise ConfigError(f"checkpoint is damaged ({problem})", path=resume_from,
                              hint="resume from the run folder (the newest intact checkpoint) or an older checkpoint")
        return run_dir, resume_from
    info = read_run(resume_from, with_metrics=False)
    if info is not None and info.is_active and info.pid != os.getpid():
        raise ConfigError(f"the run is still {info.status} (pid {info.pid})", path=resume_from,
                          hint="stop it first (or wait for it to finish), then resume")
    checkpoint, damaged = resumable(resume_from)
    if checkpoint is None and damaged:  # checkpoints there are, but none usable: say so, never start over
        raise ConfigError(f"run has no complete checkpoint to resume from ({damaged[0]})",
                          path=resume_from / "checkpoints", hint="start a new run instead")
    return resume_from, checkpoint


def resume_config(cfg: TrainingConfig, resume_from: Path | None, run_dir: Path | None,
                  batch: tuple[int, int] | None = None):
    """``(cfg, run_dir, checkpoint)``: the checkpoint a resume continues from, with its batch shape.

    Settings that differ from the run's ``config.yaml`` are applied from the checkpoint on (and
    recorded when the run starts), except those the checkpoint depends on, which are refused. The
    batch shape is the checkpoint's unless a new one is asked for. ``batch``: ``(batch_size,
    grad_accumulation_steps)`` that replace both (a restart after the process was killed for memory).
    """
    checkpoint = None
    if resume_from is not None:
        run_dir, checkpoint = resume_point(resume_from)
        state = read_state(checkpoint) if checkpoint is not None else {}
        if checkpoint is not None:
            check_shape(cfg, state, checkpoint)
        cfg, changes = resume_changes(cfg, run_dir, checkpoint)
        kept = {k: int(state[k]) for k in ("batch_size", "grad_accumulation_steps") if k in state and k not in changes}
        cfg = replace(cfg, **kept)
    if batch is not None:
        cfg = replace(cfg, batch_size=batch[0], grad_accumulation_steps=batch[1])
    return cfg, run_dir, checkpoint


def settings_for_run(run_dir: Path):
    """Settings of the workspace a run folder belongs to (``<ws>/models/<cpt|ift>/<run>``)."""
    from forgellm_tui.settings import Settings

    run_dir = Path(run_dir).resolve()
    guess = run_dir.parent.parent.parent
    return Settings.load(guess if (guess / "models").is_dir() else None)


def saved_config(run_dir: Path, cfg: TrainingConfig) -> TrainingConfig | None:
    """The config the run folder records (``config.yaml``), or None when it cannot be read."""
    from forgellm_tui.settings import Settings

    try:
        settings = Settings.load(cfg.workspace) if cfg.workspace else settings_for_run(run_dir)
        return load_config(Path(run_dir) / CONFIG, None, settings)
    except (ConfigError, OSError):
        return None


def resume_changes(cfg: TrainingConfig, run_dir: Path,
                   checkpoint: Path | None) -> tuple[TrainingConfig, dict[str, tuple]]:
    """``(cfg, changes)`` a resume makes to the run's config; ConfigFieldError naming a key that cannot change.

    A config that leaves the folder keys unset (``name``, ``run_dir``, ``output_dir``: the original
    file of a run named with ``--name``) keeps the run's own values.
    """
    saved = saved_config(run_dir, cfg)
    if saved is not None:
        unset = ("name", "run_dir", "output_dir")
        cfg = replace(cfg, **{k: getattr(saved, k) for k in unset if getattr(cfg, k) is None})
    changes = config_changes(saved, cfg)
    check_resume_changes(changes, run_dir, checkpoint, cfg.packing)
    return cfg, changes


def load_run_config(run_dir: Path, overrides: dict | None = None, settings=None) -> TrainingConfig:
    """The resolved config a run folder was started with (``config.yaml``)."""
    if settings is None:
        settings = settings_for_run(run_dir)
    return load_config(Path(run_dir) / CONFIG, overrides, settings)


# --------------------------------------------------------------------------- the run folder

def lock_existing(resume_from: Path | None, run_dir: Path | None) -> RunLock | None:
    """The lock of the existing folder a resume (or a ``prepare_run`` folder) writes; None for a new run."""
    target = resume_target(resume_from) if resume_from is not None else run_dir
    if target is None:
        return None
    if not (Path(target) / RUN_JSON).is_file():
        raise ConfigError(f"not a run folder (no {RUN_JSON})", path=target, hint=RESUME_HINT)
    return RunLock.acquire(target)


def open_folder(cfg: TrainingConfig, plan: Plan, run_dir: Path | None, lock: RunLock | None = None) -> RunFolder:
    """The run folder: an existing one (resume, ``prepare_run``; ``lock`` is its lock) or a new one."""
    if run_dir is not None:
        run = RunFolder.open(Path(run_dir))
        run.lock = lock
        removed = remove_leftovers(run.path) if lock is not None else []
        if removed:
            run.log("info", f"removed what an interrupted write left behind: {', '.join(removed)}")
        return run
    run_path = choose_run_dir(cfg, plan.settings)
    check_output(cfg, run_path)
    run = create_locked(run_path, cfg)
    register(plan.settings, run_path)
    return run


def create_locked(path: Path, cfg: TrainingConfig, status: str = "starting") -> RunFolder:
    """A new run folder, locked. Two runs started at once with one name: the second is refused.

    When the folder cannot be written (a full disk), the folders this call made are removed again.
    """
    made = missing_folders(Path(path))
    lock = None
    try:
        fsio.ensure_writable_dir(path)
        lock = RunLock.acquire(path)
        if (path / RUN_JSON).exists():
            raise ConfigError("run folder already holds a run", path=path,
                              hint="choose another run_dir/--name, or continue it with --resume")
        run = RunFolder.create(path, cfg, status=status)
    except RunLocked:
        raise  # another run writes there: its folder is left alone
    except BaseException as exc:
        if lock is not None:
            lock.release()
        if made:
            shutil.rmtree(made[-1], ignore_errors=True)
        if isinstance(exc, OSError):
            raise ForgeError(f"cannot create the run folder ({failure_reason(exc)}); nothing was left behind",
                             path=path, hint="free some disk space, or set output_dir to a folder on another disk") from None
        raise
    run.lock = lock
    return run


def _refused_before_start(run_dir: Path, exc: ForgeError) -> None:
    """A folder made ahead (``--detach``) whose run was refused before it opened (its data cannot
    train, say): run.json says failed and why, instead of waiting as ``starting`` for a process that
    has exited. A resume refused the same way leaves the run as it was."""
    try:
        lock = RunLock.acquire(run_dir)
    except ForgeError:  # another process writes it: its own record stands
        return
    try:
        RunFolder.open(run_dir).ended(ev.FAILED, stop_cause.ERROR, error=str(exc))
    except (ForgeError, OSError):
        pass
    finally:
        lock.release()


# --------------------------------------------------------------------------- once the run starts

def run_length(cfg: TrainingConfig, train_rows: int, checkpoint: Path | None) -> tuple[int, int]:
    """``(max_iterations, schedule_steps)`` of a run on ``train_rows`` rows.

    config.yaml follows extensions made during the run, so the resumed length is the config's; the
    learning-rate schedule keeps the length the checkpoint recorded.
    """
    state = read_state(checkpoint) if checkpoint else {}
    max_iterations = max(iterations_for(cfg, train_rows), int(state.get("iteration", 0)))
    return max_iterations, int(state.get("schedule_steps") or max_iterations)


def initial_weights(cfg: TrainingConfig, plan: Plan, checkpoint: Path | None):
    """``(weights, path)`` of ``resume_adapter_file`` for a run that starts without a checkpoint; else None."""
    if checkpoint is not None or not cfg.resume_adapter_file:
        return None
    path = Path(cfg.resume_adapter_file).expanduser()
    path = path if path.is_absolute() else plan.settings.workspace / path
    path = path / ADAPTERS if path.is_dir() else path
    import mlx.core as mx

    return dict(mx.load(str(path))), path


def record_resume(run: RunFolder, cfg: TrainingConfig, iteration: int, checkpoint: Path | None, dropped: int,
                  is_main: bool) -> str | None:
    """Note in ``run.json`` where a resume continued (and the settings it changed); the log line for the changes.

    A run resumed without a checkpoint starts again from iteration 0: its best checkpoint and
    ``best/`` belong to the earlier attempt, whose metrics are gone.
    """
    run.info.setdefault("resumed_from", []).append({"iteration": iteration,
                                                    "checkpoint": checkpoint.name if checkpoint else None,
                                                    "metrics_dropped": dropped})
    if checkpoint is None:
        run.info.update(best_iteration=None, best_validation_loss=None, last_checkpoint=None)
        if is_main:
            shutil.rmtree(run.path / "best", ignore_errors=True)
    changes = config_changes(saved_config(run.path, cfg), cfg)
    if not changes or not is_main:
        return None
    fsio.atomic_write_text(run.path / CONFIG, cfg.to_yaml())
    run.info.setdefault("config_changes", []).append(
        {"iteration": iteration, "changes": {k: {"from": old, "to": new} for k, (old, new) in changes.items()}})
    return f"from iteration {iteration}: " + ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
