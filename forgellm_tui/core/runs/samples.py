"""A run's ``samples.jsonl``: what the model said at each sampling point while it trained.

One JSON record a line, ``{"iteration": int, "prompt": str, "text": str, "time": float}`` (``time``:
seconds since the epoch), one per sample prompt and sampling point, appended by the training loop.
A last line without its newline (a writer killed mid-line) is skipped, so the file can be read while
a run writes it. A resume rewrites the file without the records after the checkpoint it continues
from, so every record belongs to the weights of one line of training.
"""

from __future__ import annotations

import json
from pathlib import Path

from forgellm_tui.core import fsio

SAMPLES = "samples.jsonl"


def _valid(record: dict) -> bool:
    return (isinstance(record.get("iteration"), int) and not isinstance(record["iteration"], bool)
            and isinstance(record.get("prompt"), str) and isinstance(record.get("text"), str))


def read_samples(run_dir: str | Path, start: int = 0) -> tuple[list[dict], int]:
    """The complete, well-formed records from byte ``start`` on, and the offset to read from next time."""
    path = Path(run_dir) / SAMPLES
    try:
        records, end = fsio.read_jsonl(path, start=start)
    except OSError:
        return [], start
    return [r for r in records if _valid(r)], end


def sample_iterations(records: list[dict]) -> list[int]:
    """The iterations that have samples, oldest first."""
    return sorted({r["iteration"] for r in records})


def newest_per_prompt(records: list[dict]) -> list[dict]:
    """For each prompt (in the order first seen), its record of the highest iteration."""
    newest: dict[str, dict] = {}
    for record in records:
        known = newest.get(record["prompt"])
        if known is None or record["iteration"] >= known["iteration"]:
            newest[record["prompt"]] = record
    return list(newest.values())


def at_iteration(records: list[dict], iteration: int) -> list[dict]:
    """The records written at exactly ``iteration`` (the last one per prompt if written twice)."""
    return newest_per_prompt([r for r in records if r["iteration"] == iteration])


def nearest(records: list[dict], iteration: int) -> list[dict]:
    """The records of the sampling point nearest ``iteration`` (the earlier one on a tie); [] when none."""
    points = sample_iterations(records)
    if not points:
        return []
    best = min(points, key=lambda it: (abs(it - iteration), it))
    return at_iteration(records, best)


def truncate_samples(run_dir: str | Path, iteration: int) -> int:
    """Drop the records after ``iteration`` (and a torn last line); how many records were dropped."""
    path = Path(run_dir) / SAMPLES
    if not path.exists():
        return 0
    records, _ = fsio.read_jsonl(path)
    kept = [r for r in records if _valid(r) and r["iteration"] <= iteration]
    if len(kept) != len(records) or path.read_bytes()[-1:] not in (b"\n", b""):
        fsio.atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return len(records) - len(kept)
