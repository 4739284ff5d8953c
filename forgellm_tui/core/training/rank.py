"""Start-up of one rank of a distributed run (called by ``training.train`` when ``world.size > 1``).

Every rank checks what it needs (model and data at the same paths, batch size divisible by the
number of ranks); a start-up gate stops all ranks when one cannot train, before any work. Rank 0
resolves the resume point and shares the config and the checkpoint files; only rank 0 opens the
run folder and records the ranks in ``run.json``.
"""

from __future__ import annotations

import socket
from dataclasses import fields, replace
from pathlib import Path

from forgellm_tui.core.config.model import ConfigFieldError
from forgellm_tui.core.config.schema import TrainingConfig
from forgellm_tui.core.distributed.group import NullRunFolder, SyncedControl, World, share_checkpoint
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.training.run_open import lock_existing, open_folder, resume_config
from forgellm_tui.core.training.plan import check_model, check_resume_state, preflight


def check_divisible(cfg: TrainingConfig, ranks: int) -> None:
    if cfg.batch_size % ranks:
        raise ConfigFieldError({"batch_size": f"{cfg.batch_size} is not divisible by the {ranks} ranks (each rank "
                                              f"takes an equal share of every batch) — use a multiple of {ranks}"},
                               path=cfg.source)


def share_config(world: World, cfg: TrainingConfig | None, workspace: str | None = None) -> TrainingConfig:
    """Rank 0's config on every rank; the others pass None (or their own) and keep their workspace."""
    values = world.share_json({f.name: getattr(cfg, f.name) for f in fields(cfg)
                               if f.name not in ("workspace", "source")} if world.is_main else None)
    if world.is_main:
        return cfg
    if cfg is not None:
        workspace = cfg.workspace
    return replace(TrainingConfig(**values), workspace=workspace, source=cfg.source if cfg else None)


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


def host_list(cfg: TrainingConfig) -> list[dict]:
    """The configured hosts (``[{"name": ...}]``, one per rank) without network checks; [] when unknown."""
    from forgellm_tui.core.distributed.hosts import HostError, configured_hosts

    try:
        return [{"name": h.name} for h in configured_hosts(cfg)]
    except (HostError, ForgeError):
        return []
