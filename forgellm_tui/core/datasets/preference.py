"""Preference data (DPO, ORPO): one JSONL line per pair of answers to the same prompt.

A line is ``{"prompt": TEXT, "chosen": ANSWER, "rejected": ANSWER}`` or ``{"messages": [...], "chosen":
ANSWER, "rejected": ANSWER}`` where ``messages`` is the conversation so far (it must not end with the
assistant) and an ANSWER is a string or an assistant message ``{"role": "assistant", "content": TEXT}``.
A bare ``prompt`` is the user's message. Every reader of preference data goes through
``check_preference`` so the app, ``prepare`` and training reject the same lines with the same words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from forgellm_tui.core.errors import DataError

PREFERENCE_KEYS = ("chosen", "rejected")
_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class PreferenceRecord:
    """One pair: the conversation before the answer, and the preferred and the dispreferred answer."""

    messages: tuple[dict, ...]   # system/user/assistant/tool turns before the answer; ends with a non-assistant turn
    chosen: str
    rejected: str

    def as_json(self) -> dict:
        """The cleaned line ``prepare`` writes (always the ``messages`` form)."""
        return {"messages": [dict(m) for m in self.messages], "chosen": self.chosen, "rejected": self.rejected}


def is_preference_line(obj) -> bool:
    """Whether a JSON line looks like preference data (it has ``chosen`` or ``rejected``)."""
    return isinstance(obj, dict) and any(k in obj for k in PREFERENCE_KEYS)


def _answer(obj: dict, key: str) -> tuple[str | None, str | None]:
    if key not in obj:
        return None, f'"{key}" is missing'
    value = obj[key]
    if isinstance(value, dict):
        if value.get("role", "assistant") != "assistant":
            return None, f'"{key}" must be an assistant message (role {value.get("role")!r})'
        value = value.get("content")
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):  # [{"role": "assistant", ...}]
        return _answer({key: value[0]}, key)
    if not isinstance(value, str):
        return None, f'"{key}" must be a string or an assistant message'
    if not value.strip():
        return None, f'"{key}" is empty'
    return value, None


def _context(obj: dict) -> tuple[tuple[dict, ...] | None, str | None]:
    if "messages" in obj:
        msgs = obj["messages"]
        if not isinstance(msgs, list) or not msgs:
            return None, '"messages" must be a non-empty list'
        for k, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                return None, f'messages[{k}] must be {{"role": one of {", ".join(_ROLES)}, "content": text}}'
        if msgs[-1]["role"] == "assistant":
            return None, "the conversation ends with the assistant: the answers go in \"chosen\" and \"rejected\""
        return tuple({"role": m["role"], "content": m["content"]} for m in msgs), None
    if "prompt" in obj:
        if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
            return None, '"prompt" must be a non-empty string'
        return ({"role": "user", "content": obj["prompt"]},), None
    return None, '"prompt" (text) or "messages" (the conversation so far) is missing'


def check_preference(obj) -> tuple[PreferenceRecord | None, str | None]:
    """``(record, None)`` for a usable preference line, else ``(None, what is wrong)``."""
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    messages, why = _context(obj)
    if why:
        return None, why
    answers = []
    for key in PREFERENCE_KEYS:
        text, why = _answer(obj, key)
        if why:
            return None, why
        answers.append(text)
    if answers[0].strip() == answers[1].strip():
        return None, '"chosen" and "rejected" are the same answer: the pair teaches nothing'
    return PreferenceRecord(messages, answers[0], answers[1]), None


def iter_preference_file(path: Path) -> Iterator[tuple[int, PreferenceRecord | None, str | None]]:
    """``(line number, record, problem)`` for every non-blank line of a JSONL file (1-based lines)."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=path) from None
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, None, f"not valid JSON ({exc.msg})"
                    continue
                record, why = check_preference(obj)
                yield number, record, why
        except UnicodeDecodeError:
            raise DataError("is not UTF-8 text", path=path, hint="preference data is JSONL text") from None


def read_preference_file(path: Path) -> list[PreferenceRecord]:
    """Every pair of a prepared (clean) preference file; the first bad line is a ``DataError`` naming it."""
    records = []
    for number, record, why in iter_preference_file(path):
        if why:
            raise DataError(f"line {number}: {why}", path=path,
                            hint="fix the line, or run prepare --kind preference to report every bad line")
        records.append(record)
    return records
