"""The workspace's index of run folders that live outside ``models/<training type>/`` (cpt, ift, dpo, orpo).

A config may put a run anywhere (``run_dir`` / mlx-lm's ``adapter_path``, ``output_dir``). Such a
run is listed in ``models/run-index.json`` (a JSON list of absolute folder paths, written
atomically) so that ``forgellm-tui runs`` and the Checkpoints screen still show it. Entries whose
folder no longer holds a run are dropped the next time the index is read.
"""

from __future__ import annotations

import json
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs.folder import RUN_JSON

INDEX = "run-index.json"


def index_path(settings) -> Path:
    return Path(settings.models_dir) / INDEX


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _read(settings) -> list[str]:
    try:
        data = json.loads(index_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [p for p in data if isinstance(p, str)] if isinstance(data, list) else []


def register(settings, run_dir: Path) -> None:
    """Remember ``run_dir`` when it is outside the folders the run listing scans (best effort)."""
    path = Path(run_dir).resolve()
    if any(_inside(path, root) for root in settings.run_roots):
        return
    entries = _read(settings)
    if str(path) in entries:
        return
    try:
        fsio.atomic_write_json(index_path(settings), entries + [str(path)])
    except (OSError, ForgeError):
        pass  # the run itself is fine; it is only missing from listings


def indexed_runs(settings) -> list[Path]:
    """The indexed run folders that still hold a run (the index is rewritten without the others)."""
    entries = _read(settings)
    alive = [p for p in entries if (Path(p) / RUN_JSON).is_file()]
    if len(alive) != len(entries):
        try:
            fsio.atomic_write_json(index_path(settings), alive)
        except (OSError, ForgeError):
            pass
    return [Path(p) for p in alive]
