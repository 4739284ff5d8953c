"""Result files: ``<run>/eval/<checkpoint>.json`` (``<workspace>/eval/<model>.json`` for a model).

A result records what it was computed from (``key``: the data and task files by content hash, the
limit, the model's weight files, the adapter file); when a later request has the same key the file
is reused instead of evaluating again.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.models import weight_files
from forgellm_tui.core.runs import EVAL_FORMAT, EVAL_VERSION

# the format is defined in runs, which reads the results for the ranking and the model card
RESULT_FORMAT, RESULT_VERSION = EVAL_FORMAT, EVAL_VERSION


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_identity(model: Path) -> dict:
    """The model folder and its weight files' sizes and times (hashing gigabytes on every call would be slow)."""
    files = []
    for path in weight_files(model):
        st = path.stat()
        files.append({"name": path.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns})
    return {"path": str(model.resolve()), "weights": files}


def perplexity_numbers(loss_sum: float, tokens: int) -> dict | None:
    """Token-weighted mean loss and its perplexity (None when no token bore a loss)."""
    if tokens <= 0:
        return None
    loss = loss_sum / tokens
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": tokens}


def change(mine: dict | None, base: dict | None) -> dict | None:
    """The change against the base model: loss difference and relative perplexity change."""
    if not mine or not base:
        return None
    return {"loss": mine["loss"] - base["loss"],
            "perplexity_pct": 100.0 * (mine["perplexity"] / base["perplexity"] - 1.0)}


def result_path(out_dir: Path, label: str) -> Path:
    return out_dir / f"{label}.json"


def reusable(path: Path, key: dict) -> dict | None:
    """The stored result when it was computed from exactly ``key``; None otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("format") == RESULT_FORMAT and data.get("version") == RESULT_VERSION
    return data if ok and data.get("key") == key else None


def write_result(path: Path, result: dict) -> None:
    fsio.atomic_write_json(path, result)
