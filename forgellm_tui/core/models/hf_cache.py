"""The Hugging Face hub cache, read through ``huggingface_hub``'s own cache functions, never the network.

The cache holds ``models--org--name/snapshots/<revision>/`` folders and ``refs/main`` naming the
revision a plain download gets. A repo's local copy is that revision, else its newest one (a cache
filled with ``revision=`` has no ``refs/main``). ``huggingface_hub`` is imported inside the
functions: its cache helpers only read files, but the app should not pay for the import at start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

#: a file every model snapshot has; asking the cache for it finds the snapshot ``refs/main`` names
MODEL_FILE = "config.json"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
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


def model_snapshots(cache: Path) -> dict[str, Path]:
    """Every model repo in ``cache`` -> its snapshot folder (repos the scan finds damaged are left out)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache)
    except (CacheNotFound, OSError):
        return {}
    found = {}
    for repo in info.repos:
        if repo.repo_type == "model" and repo.revisions:
            found[repo.repo_id] = _chosen(repo.revisions).snapshot_path
    return dict(sorted(found.items()))


def snapshot(repo_id: str, cache: Path) -> Path | None:
    """The snapshot folder of ``repo_id`` (``org/name``) in ``cache``, or None when it is not there."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        found = try_to_load_from_cache(repo_id, MODEL_FILE, cache_dir=cache)
    except (HFValidationError, ValueError, OSError):  # not a repo id: nothing cached under it
        return None
    if isinstance(found, str):
        return Path(found).parent
    return model_snapshots(cache).get(repo_id)  # no refs/main (or it lacks the file): the newest revision


def _chosen(revisions):
    """The revision ``refs/main`` names, else the newest."""
    main = [r for r in revisions if "main" in r.refs]
    return main[0] if main else max(revisions, key=lambda r: r.last_modified)
