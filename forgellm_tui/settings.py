"""Workspace folders and environment overrides (the folder names of the original ForgeLLM).

The workspace is the current folder or ``--workspace DIR``. Each folder can be moved with a
``FORGELLM_*`` variable; the Hugging Face cache follows huggingface_hub's own variables
(``core/models/hf_cache.py``). ``FORGELLM_NOTIFY`` (``bell``, ``osc`` or ``off``; default ``osc``)
says how a run that ends or recovers tells the terminal (``core/notify``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

#: folder attribute -> (environment variable, default name inside the workspace)
FOLDERS: dict[str, tuple[str, str]] = {
    "dataset_dir": ("FORGELLM_DATASET_DIR", "dataset"),
    "data_dir": ("FORGELLM_DATA_DIR", "data"),
    "models_dir": ("FORGELLM_MODELS_DIR", "models"),
    "configs_dir": ("FORGELLM_CONFIGS_DIR", "configs"),
    "published_dir": ("FORGELLM_PUBLISHED_DIR", "published"),
}


def hf_hub_cache(env: Mapping[str, str] | None = None) -> Path:
    """The Hugging Face hub cache folder, following huggingface_hub's conventions."""
    from forgellm_tui.core.models.hf_cache import cache_dir

    return cache_dir(env)


#: how a run that ends or recovers tells the terminal (``core/notify`` builds the escapes)
NOTIFY_VAR = "FORGELLM_NOTIFY"
NOTIFY_MODES = ("bell", "osc", "off")
DEFAULT_NOTIFY = "osc"


def parse_notify(value: str | None) -> str | None:
    """``bell``/``osc``/``off`` (any case; empty means the default ``osc``), or None for anything else."""
    text = (value or "").strip().lower()
    if not text:
        return DEFAULT_NOTIFY
    return text if text in NOTIFY_MODES else None


def notify_mode(env: Mapping[str, str]) -> str:
    """``FORGELLM_NOTIFY`` as a mode; a value that is none raises ``ForgeError`` naming the variable."""
    from forgellm_tui.core.errors import ForgeError

    mode = parse_notify(env.get(NOTIFY_VAR))
    if mode is None:
        raise ForgeError(f"{NOTIFY_VAR}={env.get(NOTIFY_VAR)!r} is not a notification mode",
                         hint=f"set it to one of {', '.join(NOTIFY_MODES)} (or unset it for {DEFAULT_NOTIFY})")
    return mode


#: The training types, each with its folder of runs under ``models/``.
RUN_TYPES = ("cpt", "ift", "dpo", "orpo")
#: Where run folders live, for messages: "models/cpt, models/ift, models/dpo or models/orpo".
RUN_FOLDERS = ", ".join(f"models/{kind}" for kind in RUN_TYPES[:-1]) + f" or models/{RUN_TYPES[-1]}"


@dataclass(frozen=True)
class Settings:
    """Resolved folders of one workspace."""

    workspace: Path
    dataset_dir: Path
    data_dir: Path
    models_dir: Path
    configs_dir: Path
    published_dir: Path
    hf_cache: Path
    notify: str = DEFAULT_NOTIFY
    """How a run that ends or recovers tells the terminal: ``bell``, ``osc`` (bell + desktop notification) or ``off``."""

    @classmethod
    def load(cls, workspace: str | Path | None = None, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        root = Path(workspace or env.get("FORGELLM_WORKSPACE") or Path.cwd()).expanduser().resolve()
        folders = {}
        for attr, (var, default) in FOLDERS.items():
            value = env.get(var)
            path = Path(value).expanduser() if value else root / default
            folders[attr] = path if path.is_absolute() else (root / path)
        return cls(workspace=root, hf_cache=hf_hub_cache(None if env is os.environ else env),
                   notify=notify_mode(env), **folders)

    @property
    def cpt_dir(self) -> Path:
        return self.models_dir / "cpt"

    @property
    def ift_dir(self) -> Path:
        return self.models_dir / "ift"

    def runs_dir(self, training_type: str) -> Path:
        """Where runs of one training type (cpt, ift, dpo, orpo) go: ``models/<type>``."""
        return self.models_dir / training_type

    @property
    def run_roots(self) -> list[Path]:
        """Every folder that holds runs, one per training type."""
        return [self.runs_dir(kind) for kind in RUN_TYPES]

    @property
    def base_models_dir(self) -> Path:
        return self.models_dir / "base"

    def ensure(self) -> "Settings":
        """Create the workspace folders that are missing."""
        for attr in FOLDERS:
            getattr(self, attr).mkdir(parents=True, exist_ok=True)
        return self
