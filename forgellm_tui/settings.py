"""Workspace folders and environment overrides (the folder names of the original ForgeLLM).

The workspace is the current folder or ``--workspace DIR``. Each folder can be moved with a
``FORGELLM_*`` variable; the Hugging Face cache follows huggingface_hub's own variables
(``hf_hub_cache``; ``core/models/hf_cache.py`` reads the cache).
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
    """The hub cache folder: ``HF_HUB_CACHE``, else ``HF_HOME``/hub, else ``~/.cache/huggingface/hub``.

    Without ``env`` this is ``huggingface_hub.constants.HF_HUB_CACHE`` (where its downloads go). A
    given mapping (a test, a workspace's settings) is read with the same rules, which huggingface_hub
    only applies to ``os.environ`` when it is imported.
    """
    if env is None:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(os.path.expandvars(env[key])).expanduser()
    if env.get("HF_HOME"):
        return Path(os.path.expandvars(env["HF_HOME"])).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


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

    @classmethod
    def load(cls, workspace: str | Path | None = None, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        root = Path(workspace or env.get("FORGELLM_WORKSPACE") or Path.cwd()).expanduser().resolve()
        folders = {}
        for attr, (var, default) in FOLDERS.items():
            value = env.get(var)
            path = Path(value).expanduser() if value else root / default
            folders[attr] = path if path.is_absolute() else (root / path)
        return cls(workspace=root, hf_cache=hf_hub_cache(None if env is os.environ else env), **folders)

    @property
    def cpt_dir(self) -> Path:
        return self.models_dir / "cpt"

    @property
    def ift_dir(self) -> Path:
        return self.models_dir / "ift"

    @property
    def base_models_dir(self) -> Path:
        return self.models_dir / "base"

    def ensure(self) -> "Settings":
        """Create the workspace folders that are missing."""
        for attr in FOLDERS:
            getattr(self, attr).mkdir(parents=True, exist_ok=True)
        return self
