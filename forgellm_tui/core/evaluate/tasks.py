"""Multiple-choice tasks from a local JSONL file, scored like lm-eval's ``multiple_choice`` tasks.

One item per line: ``{"query": str, "choices": [str, ...], "gold": int, "id": optional}``. Each
choice is scored by the log-likelihood of its tokens after the query (the choice is appended to the
query exactly as written, so a separating space belongs at the start of each choice, as lm-eval's
``target_delimiter`` puts it). ``acc``: the most likely choice is the gold one; ``acc_norm``: the
same with each log-likelihood divided by the choice's length in characters (lm-eval's
normalisation, which stops long choices from losing just for being long).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.errors import DataError

TASK_HINT = 'each line: {"query": "...", "choices": ["...", "..."], "gold": <index of the right choice>}'


@dataclass(frozen=True)
class TaskItem:
    id: str
    query: str
    choices: tuple[str, ...]
    gold: int


@dataclass(frozen=True)
class TaskFile:
    path: Path
    name: str
    sha256: str
    items: tuple[TaskItem, ...]


def _item(obj, n: int) -> TaskItem:
    """One line's item; ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("is not a JSON object")
    query, choices, gold = obj.get("query"), obj.get("choices"), obj.get("gold")
    if not isinstance(query, str):
        raise ValueError('"query" is missing or not text')
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        raise ValueError('"choices" must be a list of at least 2 non-empty strings')
    if isinstance(gold, bool) or not isinstance(gold, int):
        raise ValueError(f'"gold" must be a whole number (the index of the right choice), got {gold!r}')
    if not 0 <= gold < len(choices):
        raise ValueError(f'"gold" {gold} is out of range: there are {len(choices)} choices (0 to {len(choices) - 1})')
    return TaskItem(str(obj.get("id", n)), query, tuple(choices), gold)


def load_tasks(path: str | Path, limit: int | None = None) -> TaskFile:
    """All items of a task file (the first ``limit``); DataError naming the file and line of a bad one."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the task file ({exc.strerror})", path=path, hint=TASK_HINT) from None
    items: list[TaskItem] = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(_item(json.loads(line.decode("utf-8")), n))
        except UnicodeDecodeError:
            raise DataError(f"line {n} is not UTF-8 text", path=path, hint="re-save the file as UTF-8") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"line {n} is not valid JSON ({exc.msg})", path=path, hint=TASK_HINT) from None
        except ValueError as exc:
            raise DataError(f"line {n}: {exc}", path=path, hint=TASK_HINT) from None
    if not items:
        raise DataError("the task file has no items", path=path, hint=TASK_HINT)
    return TaskFile(path, path.stem, hashlib.sha256(raw).hexdigest(), tuple(items[:limit] if limit else items))


def mean_stderr(values: list[float]) -> float | None:
    """Standard error of the mean (sample standard deviation / sqrt(n)), as lm-eval reports it."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def score_items(items: tuple[TaskItem, ...], logliks: list[list[float]]) -> dict:
    """``acc``, ``acc_norm`` (each with its standard error) from each item's choice log-likelihoods."""
    acc, acc_norm = [], []
    for item, ll in zip(items, logliks):
        acc.append(float(max(range(len(ll)), key=lambda i: ll[i]) == item.gold))
        norm = [v / len(c) for v, c in zip(ll, item.choices)]
        acc_norm.append(float(max(range(len(norm)), key=lambda i: norm[i]) == item.gold))
    n = len(acc)
    chance = sum(1 / len(item.choices) for item in items) / n if n else None
    return {"items": n, "acc": sum(acc) / n if n else None, "acc_stderr": mean_stderr(acc),
            "acc_norm": sum(acc_norm) / n if n else None, "acc_norm_stderr": mean_stderr(acc_norm),
            "chance": chance}
