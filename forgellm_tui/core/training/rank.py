"""What one rank of a distributed run needs beyond a single-process run: the batch size split over
the ranks, rank 0's config on every rank, and the configured host names (``prepare.open_distributed``
uses them; so does the ``train`` command that launches the ranks)."""

from __future__ import annotations

from dataclasses import fields, replace

from forgellm_tui.core.config import ConfigFieldError, TrainingConfig
from forgellm_tui.core.distributed import HostError, World, configured_hosts
from forgellm_tui.core.errors import ForgeError


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


def host_list(cfg: TrainingConfig) -> list[dict]:
    """The configured hosts (``[{"name": ...}]``, one per rank) without network checks; [] when unknown."""
    try:
        return [{"name": h.name} for h in configured_hosts(cfg)]
    except (HostError, ForgeError):
        return []
