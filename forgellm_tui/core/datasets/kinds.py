"""Which kind of training data a JSONL file holds, from its first JSON line: preference pairs, IFT
conversations or CPT text.

``prepare`` uses it to refuse a file given to the wrong kind with one line that names the kind the
file is and the command that prepares it; ``stats`` and the Datasets screen use it to label files.
"""

from __future__ import annotations

import json
from pathlib import Path

from forgellm_tui.core.datasets.preference import is_preference_line
from forgellm_tui.core.errors import DataError

KIND_WORDS = {
    "preference": 'preference pairs ("chosen" and "rejected" answers)',
    "ift": 'IFT conversations ("messages", or "prompt" + "completion")',
    "cpt": "CPT text",
}
#: lines read at most to find the first JSON object (a file of bad lines is left to the line checks)
_SNIFF_LINES = 50


def line_kind(obj) -> str | None:
    """The kind of one parsed JSON line, or None when it is none of them."""
    if not isinstance(obj, dict):
        return None
    if is_preference_line(obj):
        return "preference"
    if "messages" in obj or "completion" in obj:
        return "ift"
    if "text" in obj:
        return "cpt"
    return None


def jsonl_kind(path: Path) -> tuple[str | None, int]:
    """``(kind, line number)`` of the first line of ``path`` that tells the kind; ``("cpt", n)`` when
    the first non-blank line is plain text (not JSON at all); ``(None, 0)`` when nothing tells."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if number > _SNIFF_LINES:
                    break
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    if not line.lstrip().startswith(("{", "[")):
                        return "cpt", number
                    continue
                kind = line_kind(obj)
                if kind is not None:
                    return kind, number
    except OSError:
        pass  # the readers report an unreadable file with its reason
    return None, 0


def refuse_other_kind(path: Path, wanted: str, others: tuple[str, ...]) -> None:
    """A ``DataError`` when ``path`` holds one of the ``others`` kinds of data instead of ``wanted``."""
    kind, number = jsonl_kind(path)
    if kind not in others:
        return
    command = ("forgellm-tui prepare --kind cpt --dataset FOLDER" if kind == "cpt"
               else f"forgellm-tui prepare --kind {kind} --input {path}")
    raise DataError(f"line {number} is {KIND_WORDS[kind]}, not {KIND_WORDS[wanted].split(' (')[0]}", path=path,
                    hint=f"prepare it with: {command}")
