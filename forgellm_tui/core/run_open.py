"""Opening a run: a new folder, a folder made by ``prepare_run``, or the checkpoint a resume continues from."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from . import checkpoints as ck
from . import fsio
from .config import ConfigFieldError, load_config
from .config_schema import SHAPE_FIELDS, TrainingConfig
from .errors import ConfigError, ForgeError
from .run_folder import (CONFIG, RUN_JSON, RunFolder, choose_run_dir, failure_reason, missing_folders,
                         remove_leftovers)
from .run_index import register
from .run_lock import RunLock, RunLocked
from .training_plan import Plan, check_model, check_output, check_resume_state, preflight


RESUME_HINT = "pass a run folder (models/cpt/<run>) or one of its checkpoints (<run>/checkpoints/<iteration>)"


def resume_target(path: Path) -> Path:
    """The run folder ``--resume PATH`` means: PATH itself, or the run a checkpoint folder belongs to."""
    path = Path(path).expanduser().resolve()
    if (path / RUN_JSON).is_file():
        return path
    run_dir = path.parent.parent
    if path.parent.name == "checkpoints" and (run_dir / RUN_JSON).is_file():
        if not (path / ck.STATE).is_file():
            raise ConfigError(f"checkpoint is incomplete (no {ck.STATE})", path=path,
                              hint="resume from the run folder (its newest complete checkpoint) or another checkpoint")
        return run_dir
    if (path.parent / RUN_JSON).is_file():
        raise ConfigError("not a checkpoint a run can continue from", path=path, hint=RESUME_HINT)
    if not path.exists():
        raise ConfigError("run folder not found", path=path, hint=RESUME_HINT)
    raise ConfigError(f"not a run folder (no {RUN_JSON})", path=path, hint=RESUME_HINT)


def resume_point(resume_from: Path) -> tuple[Path, Path]:
    """``(run_dir, checkpoint)`` for a run folder (newest complete checkpoint) or a checkpoint folder."""
    resume_from = Path(resume_from).expanduser().resolve()
    run_dir = resume_target(resume_from)
    if run_dir != resume_from:
        problem = ck.damage(resume_from)
        if problem is not None:
            raise ConfigError(f"checkpoint is damaged ({problem})", path=resume_from,
                              hint="resume from the run folder (the newest intact checkpoint) or an older checkpoint")
        return run_dir, resume_from
    from .runs import read_run

    info = read_run(resume_from, with_metrics=False)
    if info is not None and info.is_active and info.pid != os.getpid():
        raise ConfigError(f"the run is still {info.status} (pid {info.pid})", path=resume_from,
                          hint="stop it first (or wait for it to finish), then resume")
    checkpoint, damaged = ck.resumable(resume_from)
    if checkpoint is None:
        detail = f" ({damaged[0]})" if damaged else ""
        raise ConfigError(f"run has no complete checkpoint to resume from{detail}", path=resume_from / "checkpoints",
                          hint="start a new run instead")
    return resume_from, checkpoint


def check_shape(cfg: TrainingConfig, state: dict, checkpoint: Path) -> None:
    saved = state.get("shape") or {}
    changed = {k: (saved[k], getattr(cfg, k)) for k in SHAPE_FIELDS if k in saved and saved[k] != getattr(cfg, k)}
    if changed:
        key, (old, new) = next(iter(changed.items()))
        raise ConfigFieldError({key: f"the run was trained with {key}={old!r}, this config says {new!r}; a resume "
                                     "cannot change the model's shape — keep the run's value or start a new run"},
                               path=checkpoint)


def prepare_run(config: TrainingConfig, status: str = "queued") -> Path:
    """Check everything and create the run folder (``config.yaml`` + ``run.json``); for detached runs."""
    plan = preflight(config)
    check_model(plan)
    run_dir = choose_run_dir(config, plan.settings)
    check_output(config, run_dir)
    create_locked(run_dir, config, status).unlock()  # the process that trains takes the lock again
    register(plan.settings, run_dir)
    return run_dir


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


def lock_existing(resume_from: Path | None, run_dir: Path | None) -> RunLock | None:
    """The lock of the existing folder a resume (or a ``prepare_run`` folder) writes; None for a new run."""
    target = resume_target(resume_from) if resume_from is not None else run_dir
    if target is None:
        return None
    if not (Path(target) / RUN_JSON).is_file():
        raise ConfigError(f"not a run folder (no {RUN_JSON})", path=target, hint=RESUME_HINT)
    return RunLock.acquire(target)


def load_run_config(run_dir: Path, overrides: dict | None = None, settings=None) -> TrainingConfig:
    """The resolved config a run folder was started with (``config.yaml``)."""
    if settings is None:
        settings = settings_for_run(run_dir)
    return load_config(Path(run_dir) / CONFIG, overrides, settings)


def settings_for_run(run_dir: Path):
    """Settings of the workspace a run folder belongs to (``<ws>/models/<cpt|ift>/<run>``)."""
    from ..settings import Settings

    run_dir = Path(run_dir).resolve()
    guess = run_dir.parent.parent.parent
    return Settings.load(guess if (guess / "models").is_dir() else None)


def resume_config(cfg: TrainingConfig, resume_from: Path | None, run_dir: Path | None,
                  batch: tuple[int, int] | None = None):
    """``(cfg, run_dir, checkpoint)``: the checkpoint a resume continues from, with its batch shape.

    ``batch``: ``(batch_size, grad_accumulation_steps)`` that replace the checkpoint's (and the config's).
    """
    checkpoint = None
    if resume_from is not None:
        run_dir, checkpoint = resume_point(resume_from)
        state = ck.read_state(checkpoint)
        check_shape(cfg, state, checkpoint)
        batch = batch or (int(state.get("batch_size", cfg.batch_size)),
                          int(state.get("grad_accumulation_steps", cfg.grad_accumulation_steps)))
    if batch is not None:
        cfg = replace(cfg, batch_size=batch[0], grad_accumulation_steps=batch[1])
    return cfg, run_dir, checkpoint


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


def open_run(config: TrainingConfig, resume_from: Path | None, run_dir: Path | None,
             batch: tuple[int, int] | None = None):
    """``(cfg, plan, run, checkpoint)`` of a single-process run; the run folder is locked until ``run.unlock()``."""
    lock = lock_existing(resume_from, run_dir)
    try:
        cfg, run_dir, checkpoint = resume_config(config, resume_from, run_dir, batch)
        plan = preflight(cfg)
        check_model(plan)
        check_resume_state(cfg, plan, checkpoint)
        run = open_folder(cfg, plan, run_dir, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return cfg, plan, run, checkpoint
