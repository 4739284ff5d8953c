"""The reference model's log-probabilities of every pair's answers (DPO), computed once per run and kept.

``RUN/reference/<split>.npy`` holds an ``[N, 2]`` float32 table (chosen, rejected summed log-probs of
pair ``i``); ``RUN/reference/<split>.json`` holds what it was computed from (the identity: data file
hash, model, max_seq_length) and the hash of the ``.npy`` bytes. Both are written atomically, the table
first; a table whose identity or hash does not match, or that cannot be read, is not used (``None``:
compute it again), so a crash between the two writes or a changed data file never feeds a wrong
reference to a resumed run.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from forgellm_tui.core import fsio
from forgellm_tui.core.preference.batches import make_pair_batch, pair_groups
from forgellm_tui.core.preference.losses import sequence_logps
from forgellm_tui.core.preference.pairs import PairSet

FOLDER = "reference"


def _cancelled(cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if hasattr(cancel, "is_set") else bool(cancel())


def compute_reference(model, pairs: PairSet, batch_size: int, cancel=None, tick=None) -> np.ndarray | None:
    """``[N, 2]`` float32: summed log-probs of each pair's chosen and rejected answer under ``model`` as it
    is (the caller turns adapters off or passes the starting weights), in eval mode, without gradients.

    ``cancel`` (a ``threading.Event`` or a callable) is checked before every batch: once set, the result
    is None. ``tick(pairs_done, pairs_total)`` follows progress.
    """
    import mlx.core as mx

    out = np.zeros((len(pairs), 2), np.float32)
    was_training = getattr(model, "training", False)
    model.eval()  # no dropout: the reference must not depend on the random state
    done = 0
    try:
        for group in pair_groups(pairs, batch_size):
            if _cancelled(cancel):
                return None
            tokens, mask, ids = make_pair_batch(pairs, group)
            logps, _ = sequence_logps(model, mx.array(tokens), mx.array(mask))
            values = np.array(mx.stop_gradient(logps).astype(mx.float32))
            out[ids, 0], out[ids, 1] = values[:len(ids)], values[len(ids):]
            done += len(ids)
            if tick is not None:
                tick(done, len(pairs))
    finally:
        if was_training:
            model.train()
    return out


def file_hash(path: str | Path) -> str:
    """sha256 of a file (a data file's part of a reference identity)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reference_identity(data_file: str | Path, model: str, max_seq_length: int) -> dict:
    """What a reference table depends on: the data file's content, the model and the cut."""
    return {"data_sha256": file_hash(data_file), "model": str(model), "max_seq_length": int(max_seq_length)}


def _paths(run_dir: str | Path, split: str) -> tuple[Path, Path]:
    folder = Path(run_dir) / FOLDER
    return folder / f"{split}.npy", folder / f"{split}.json"


def _normal(identity: dict) -> dict:
    return json.loads(json.dumps(identity, default=str, sort_keys=True))


def save_reference(run_dir: str | Path, split: str, array: np.ndarray, identity: dict) -> Path:
    """Write the table of ``split`` and its identity under ``run_dir/reference/``; returns the table's path."""
    table, meta = _paths(run_dir, split)
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32), allow_pickle=False)
    data = buffer.getvalue()
    fsio.atomic_write_bytes(table, data)
    fsio.atomic_write_json(meta, {"identity": _normal(identity), "sha256": hashlib.sha256(data).hexdigest(),
                                  "pairs": int(len(array))})
    return table


def load_reference(run_dir: str | Path, split: str, identity: dict) -> np.ndarray | None:
    """The stored table of ``split`` when it was computed for ``identity`` and is intact, else None."""
    table, meta_path = _paths(run_dir, split)
    meta = fsio.read_json_object(meta_path)
    if not meta or meta.get("identity") != _normal(identity):
        return None
    try:
        data = table.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        return None
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None
    if array.ndim != 2 or array.shape != (meta.get("pairs"), 2) or not np.issubdtype(array.dtype, np.floating):
        return None
    return array.astype(np.float32)
