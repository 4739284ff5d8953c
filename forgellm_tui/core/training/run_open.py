"""Opening a run: a new folder, a folder made by ``prepare_run``, or the checkpoint a resume continues from."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core import fsio
from forgellm_tui.core.config.fields import FIELDS
from forgellm_tui.core.config.model import ConfigFieldError, load_config
from forgellm_tui.core.config.schema import SHAPE_FIELDS, TrainingConfig
from forgellm_tui.core.errors import ConfigError, ForgeError
from forgellm_tui.core.runs.folder import (CONFIG, RUN_JSON, RunFolder, choose_run_dir, failure_reason, missing_folders,
                         remove_leftovers)
from forgellm_tui.core.runs.index import register
from forgellm_tui.core.runs.lock import RunLock, RunLocked
from forgellm_tui.core.training.plan import Plan, check_model, check_output, check_resume_state, preflight


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


#: keys a resume cannot change, and why (the run keeps its folder; nothing else depends on a checkpoint)
FOLDER_KEYS = {"name": "the run keeps its folder name", "run_dir": "the run keeps its folder",
               "output_dir": "the run keeps its folder", "training_type": "the run's folder is under models/"
                                                                          "<training_type>"}
#: keys the checkpoint's saved state depends on
CHECKPOINT_KEYS = {
    **{key: "it changes the shape of the trained weights" for key in SHAPE_FIELDS},
    "data": "the checkpoint's data position counts rows of the run's data",
    "packing": "the checkpoint's data position counts rows of the run's data",
    "text_feature": "the run's data is read with it", "chat_feature": "the run's data is read with it",
    "prompt_feature": "the run's data is read with it", "completion_feature": "the run's data is read with it",
    "optimizer": "the checkpoint holds this optimizer's state",
    "resume_adapter_file": "a resume continues from the checkpoint's weights",
}


def resume_point(resume_from: Path) -> tuple[Path, Path | None]:
    """``(run_dir, checkpoint)`` for a run folder (newest complete checkpoint) or a checkpoint folder.

    A run that has no checkpoint yet (killed or stopped before its first one) starts again from
    iteration 0 in its own folder: ``checkpoint`` is None.
    """
    resume_from = Path(resume_from).expanduser().resolve()
    run_dir = resume_target(resume_from)
    if run_dir != resume_from:
        problem = ck.damage(resume_from)
        if problem is not None:
            raise ConfigError(f"checkpoint is damaged ({problem})", path=resume_from,
                              hint="resume from the run folder (the newest intact checkpoint) or an older checkpoint")
        return run_dir, resume_from
    from forgellm_tui.core.runs.reader import read_run

    info = read_run(resume_from, with_metrics=False)
    if info is not None and info.is_active and info.pid != os.getpid():
        raise ConfigError(f"the run is still {info.status} (pid {info.pid})", path=resume_from,
                          hint="stop it first (or wait for it to finish), then resume")
    checkpoint, damaged = ck.resumable(resume_from)
    if checkpoint is None and damaged:  # checkpoints there are, but none usable: say so, never start over
        raise ConfigError(f"run has no complete checkpoint to resume from ({damaged[0]})",
                          path=resume_from / "checkpoints", hint="start a new run instead")
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


def config_changes(before: TrainingConfig | None, after: TrainingConfig) -> dict[str, tuple]:
    """``{key: (old, new)}`` for every setting that differs (in field order)."""
    if before is None:
        return {}
    return {name: (getattr(before, name), getattr(after, name)) for name in FIELDS
            if getattr(before, name) != getattr(after, name)}


def check_resume_changes(cfg: TrainingConfig, run_dir: Path,
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
    fixed = {**FOLDER_KEYS, **(CHECKPOINT_KEYS if checkpoint is not None else {})}
    if checkpoint is not None and cfg.packing:
        fixed["max_seq_length"] = "packed rows are cut at max_seq_length; the checkpoint's data position counts them"
    for key, (old, new) in changes.items():
        if key in fixed:
            raise ConfigFieldError({key: f"cannot change on resume ({old!r} -> {new!r}): {fixed[key]} — keep "
                                         f"{old!r}, or start a new run"}, path=Path(run_dir) / CONFIG)
    return cfg, changes


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
        state = ck.read_state(checkpoint) if checkpoint is not None else {}
        if checkpoint is not None:
            check_shape(cfg, state, checkpoint)
        cfg, changes = check_resume_changes(cfg, run_dir, checkpoint)
        kept = {k: int(state[k]) for k in ("batch_size", "grad_accumulation_steps") if k in state and k not in changes}
        cfg = replace(cfg, **kept)
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
             batch: tuple[int, int] | None = None, load=None):
    """``(cfg, plan, run, checkpoint, loaded)`` of a single-process run; the run folder is locked until
    ``run.unlock()``. ``loaded = load(cfg, plan)`` runs before a new folder is created, so input it
    refuses leaves nothing behind."""
    lock = lock_existing(resume_from, run_dir)
    try:
        cfg, run_dir, checkpoint = resume_config(config, resume_from, run_dir, batch)
        plan = preflight(cfg)
        check_model(plan)
        check_resume_state(cfg, plan, checkpoint)
        loaded = load(cfg, plan) if load is not None else None
        run = open_folder(cfg, plan, run_dir, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return cfg, plan, run, checkpoint, loaded
