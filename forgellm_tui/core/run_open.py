"""Opening a run: a new folder, a folder made by ``prepare_run``, or the checkpoint a resume continues from."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from . import checkpoints as ck
from .config import ConfigFieldError, load_config
from .config_schema import SHAPE_FIELDS, TrainingConfig
from .errors import ConfigError
from .run_folder import CONFIG, RunFolder, choose_run_dir
from .training_plan import Plan, check_output, preflight


def resume_point(resume_from: Path) -> tuple[Path, Path]:
    """``(run_dir, checkpoint)`` for a run folder (newest complete checkpoint) or a checkpoint folder."""
    resume_from = Path(resume_from).expanduser().resolve()
    if (resume_from / ck.STATE).is_file() and resume_from.parent.name == "checkpoints":
        return resume_from.parent.parent, resume_from
    if not (resume_from / "run.json").is_file():
        raise ConfigError("not a run folder (no run.json)", path=resume_from,
                          hint="pass a folder under models/cpt or models/ift")
    from .runs import read_run

    info = read_run(resume_from, with_metrics=False)
    if info is not None and info.is_active and info.pid != os.getpid():
        raise ConfigError(f"the run is still {info.status} (pid {info.pid})", path=resume_from,
                          hint="stop it first (or wait for it to finish), then resume")
    checkpoint = ck.latest_checkpoint(resume_from)
    if checkpoint is None:
        raise ConfigError("run has no complete checkpoint to resume from", path=resume_from / "checkpoints",
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
    run_dir = choose_run_dir(config, plan.settings)
    check_output(config, run_dir)
    RunFolder.create(run_dir, config, status=status)
    return run_dir


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


def resume_config(cfg: TrainingConfig, resume_from: Path | None, run_dir: Path | None):
    """``(cfg, run_dir, checkpoint)``: the checkpoint a resume continues from, with its batch shape."""
    if resume_from is None:
        return cfg, run_dir, None
    run_dir, checkpoint = resume_point(resume_from)
    state = ck.read_state(checkpoint)
    check_shape(cfg, state, checkpoint)
    cfg = replace(cfg, batch_size=int(state.get("batch_size", cfg.batch_size)),
                  grad_accumulation_steps=int(state.get("grad_accumulation_steps", cfg.grad_accumulation_steps)))
    return cfg, run_dir, checkpoint


def open_folder(cfg: TrainingConfig, plan: Plan, run_dir: Path | None) -> RunFolder:
    """The run folder: an existing one (resume, ``prepare_run``) or a new one."""
    if run_dir is not None:
        return RunFolder.open(Path(run_dir))
    run_path = choose_run_dir(cfg, plan.settings)
    check_output(cfg, run_path)
    return RunFolder.create(run_path, cfg)
