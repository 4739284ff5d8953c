"""Checkpoint folders of a run: write atomically, find the newest complete one, keep ``best/``.

``checkpoints/<iteration:07d>/`` holds ``adapters.safetensors`` + ``adapter_config.json`` (loadable
with ``mlx_lm generate --adapter-path``), ``optimizer.safetensors`` and ``state.json`` (iteration,
data position, RNG scheme, losses): everything an exact resume needs. Each folder is built under a
temporary name and renamed when complete, so a kill never leaves a half checkpoint behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError

ADAPTERS = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
OPTIMIZER = "optimizer.safetensors"
STATE = "state.json"
COMPLETE = (ADAPTERS, ADAPTER_CONFIG, STATE)


def save_safetensors(path: Path, arrays: dict, metadata: dict | None = None) -> None:
    """Write a safetensors file atomically (temp name, fsync, rename)."""
    import mlx.core as mx

    with fsio.atomic_writer(path, "wb") as fh:
        mx.save_safetensors(fh, arrays, metadata=metadata or {"format": "mlx"})


def checkpoint_dir(run_dir: Path, iteration: int) -> Path:
    return run_dir / "checkpoints" / f"{iteration:07d}"


def is_complete(folder: Path) -> bool:
    return folder.is_dir() and not fsio.is_temp_name(folder) and all((folder / f).is_file() for f in COMPLETE)


def list_complete(run_dir: Path) -> list[tuple[int, Path]]:
    """``(iteration, folder)`` of every complete numbered checkpoint, oldest first."""
    root = run_dir / "checkpoints"
    found = []
    if root.is_dir():
        for child in root.iterdir():
            if child.name.isdigit() and is_complete(child):
                found.append((int(child.name), child))
    return sorted(found)


def damage(folder: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (empty or corrupt files, an optimizer state saved at
    another iteration), or None. Reads only the safetensors headers and the small JSON files."""
    from forgellm_tui.core.models import safetensors_header

    for name in (ADAPTERS, OPTIMIZER, ADAPTER_CONFIG, STATE):
        try:
            if (folder / name).stat().st_size == 0:
                return f"{name} is empty"
        except OSError:
            return f"{name} is missing"
    try:
        state = read_state(folder)
        config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        safetensors_header(folder / ADAPTERS)
        optimizer = safetensors_header(folder / OPTIMIZER)
    except ForgeError as exc:
        return f"{Path(exc.path or folder).name}: {exc.message}"
    except (OSError, ValueError) as exc:
        return f"{ADAPTER_CONFIG} is not readable JSON ({exc})"
    if not isinstance(config, dict):
        return f"{ADAPTER_CONFIG} is not a JSON object"
    stamp = (optimizer.get("__metadata__") or {}).get("iteration")
    if stamp is not None and stamp != str(state["iteration"]):
        return f"{OPTIMIZER} was saved at iteration {stamp}, state.json says {state['iteration']}"
    return None


def resumable(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint a run can resume from, and a note for each newer one that is damaged."""
    notes = []
    for it, folder in reversed([(it, p) for it, p in list_complete(run_dir) if (p / OPTIMIZER).is_file()]):
        problem = damage(folder)
        if problem is None:
            return folder, notes
        notes.append(f"checkpoint {folder.name} is damaged ({problem}); it is skipped")
    return None, notes


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint with optimizer state whose files are intact."""
    return resumable(run_dir)[0]


def read_state(folder: Path) -> dict:
    try:
        data = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ForgeError(f"unreadable checkpoint state ({exc})", path=folder / STATE,
                         hint="resume from an older checkpoint folder") from None
    if not isinstance(data, dict) or not isinstance(data.get("iteration"), int):
        raise ForgeError("checkpoint state has no iteration", path=folder / STATE,
                         hint="resume from an older checkpoint folder")
    return data


def write_checkpoint(run_dir: Path, iteration: int, weights: dict, optimizer_state: dict | None,
                     adapter_config: dict, state: dict) -> Path:
    """Build ``checkpoints/<iteration>/`` atomically (replaces an older one of the same number)."""
    target = checkpoint_dir(run_dir, iteration)
    stamp = {"format": "mlx", "iteration": str(iteration)}  # a file copied in from another checkpoint shows
    with fsio.atomic_dir(target, replace=True) as tmp:
        save_safetensors(tmp / ADAPTERS, weights, stamp)
        if optimizer_state is not None:
            save_safetensors(tmp / OPTIMIZER, optimizer_state, stamp)
        fsio.atomic_write_json(tmp / ADAPTER_CONFIG, adapter_config)
        fsio.atomic_write_json(tmp / STATE, state)
    return target


def copy_file(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, fsio.atomic_writer(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def publish_latest(run_dir: Path, checkpoint: Path) -> None:
    """Make the run folder's own ``adapters.safetensors`` + ``adapter_config.json`` this checkpoint's."""
    copy_file(checkpoint / ADAPTERS, run_dir / ADAPTERS)
    copy_file(checkpoint / ADAPTER_CONFIG, run_dir / ADAPTER_CONFIG)


def write_best(run_dir: Path, weights: dict | None, adapter_config: dict, state: dict,
               from_checkpoint: Path | None = None) -> Path:
    """Replace ``best/`` atomically: adapters + adapter_config + state (no optimizer state)."""
    target = run_dir / "best"
    with fsio.atomic_dir(target, replace=True) as tmp:
        if from_checkpoint is not None:
            shutil.copyfile(from_checkpoint / ADAPTERS, tmp / ADAPTERS)
        else:
            save_safetensors(tmp / ADAPTERS, weights or {})
        fsio.atomic_write_json(tmp / ADAPTER_CONFIG, adapter_config)
        fsio.atomic_write_json(tmp / STATE, state)
    return target


def prune(run_dir: Path, keep: int | None, protect: Path | None = None) -> list[Path]:
    """Delete the oldest numbered checkpoints beyond ``keep`` (never ``protect``)."""
    if not keep:
        return []
    found = list_complete(run_dir)
    removed = []
    for _, folder in found[:-keep]:
        if protect is not None and folder == protect:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def load_optimizer_state(folder: Path) -> dict:
    """The nested optimizer state saved in a checkpoint."""
    import mlx.core as mx
    from mlx.utils import tree_unflatten

    return tree_unflatten(list(mx.load(str(folder / OPTIMIZER)).items()))


def load_weights(folder: Path) -> dict:
    import mlx.core as mx

    return dict(mx.load(str(folder / ADAPTERS)))
