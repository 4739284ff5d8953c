"""Arena votes: one record per round (two targets, one prompt, both replies, the vote), kept in
``WORKSPACE/arena.jsonl`` one JSON object a line, and tallied per pair of targets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.chat import ReplyStats, SamplingSettings
from forgellm_tui.core.errors import DataError, ForgeError

FILE_NAME = "arena.jsonl"
VOTES = ("left", "right", "tie")
SIDES = ("left", "right")


def arena_file(workspace: str | Path) -> Path:
    """Where the votes of ``workspace`` are kept."""
    return Path(workspace) / FILE_NAME


@dataclass
class ArenaRecord:
    """One round. ``left``/``right`` describe the targets (``core.chat.model_info``); ``vote`` is None until cast."""

    left: dict
    right: dict
    prompt: str
    replies: dict[str, str]
    system_prompt: str = ""
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    stats: dict[str, ReplyStats | None] = field(default_factory=dict)
    vote: str | None = None
    time: str = ""

    @property
    def same_target(self) -> bool:
        """Both sides are the same model (allowed: it shows how much sampling alone changes a reply)."""
        return target_id(self.left) == target_id(self.right)

    def to_dict(self) -> dict:
        return {"time": self.time, "left": self.left, "right": self.right, "prompt": self.prompt,
                "system_prompt": self.system_prompt, "settings": self.sampling.to_dict(),
                "replies": {side: self.replies.get(side, "") for side in SIDES},
                "stats": {side: s.to_dict() if (s := self.stats.get(side)) else None for side in SIDES},
                "vote": self.vote}

    @classmethod
    def from_dict(cls, data: dict) -> "ArenaRecord":
        """Raises ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for key in ("left", "right", "replies"):
            if not isinstance(data.get(key), dict):
                raise ValueError(f'"{key}" is missing or not an object')
        if not isinstance(data.get("prompt"), str):
            raise ValueError('"prompt" is missing or not text')
        if data.get("vote") not in (*VOTES, None):
            raise ValueError(f'"vote" is {data.get("vote")!r}, not one of {", ".join(VOTES)}')
        stats = data.get("stats") if isinstance(data.get("stats"), dict) else {}
        return cls(left=data["left"], right=data["right"], prompt=data["prompt"],
                   replies={side: str(data["replies"].get(side, "")) for side in SIDES},
                   system_prompt=str(data.get("system_prompt") or ""),
                   sampling=SamplingSettings.from_dict(data.get("settings") or {}),
                   stats={side: ReplyStats.from_dict(stats.get(side)) for side in SIDES},
                   vote=data.get("vote"), time=str(data.get("time") or ""))


def target_id(target: dict) -> str:
    """What makes two targets the same: the folder (and adapter) loaded."""
    return f"{target.get('base_path')}|{target.get('adapter_path')}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def append_vote(workspace: str | Path, record: ArenaRecord, vote: str) -> ArenaRecord:
    """Cast ``vote`` on ``record`` and append it to the workspace's ``arena.jsonl`` (the file is created)."""
    if vote not in VOTES:
        raise ForgeError(f"the vote {vote!r} is not one of {', '.join(VOTES)}", hint="vote left, right or tie")
    if not all(record.replies.get(side, "").strip() for side in SIDES):
        raise ForgeError("both models must reply before a vote", hint="send the prompt and wait for both replies")
    record.vote = vote
    record.time = record.time or now()
    fsio.append_jsonl(arena_file(workspace), record.to_dict())
    return record


def load_votes(workspace: str | Path) -> list[ArenaRecord]:
    """Every vote in ``arena.jsonl`` (none when it does not exist yet).

    A last line without its newline (a writer stopped mid-line) is skipped; any other line that is
    not a vote raises a DataError naming the line.
    """
    path = arena_file(workspace)
    try:
        data = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the arena votes ({exc.__class__.__name__})", path=path,
                        hint="move the file away to start a new tally") from None
    lines = data.split("\n")
    if not data.endswith("\n"):
        lines = lines[:-1]
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = ArenaRecord.from_dict(json.loads(line))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise DataError(f"line {number} is not an arena vote ({str(exc).splitlines()[0]})", path=path,
                            hint=f"fix or delete line {number}") from None
        if record.vote is not None:
            records.append(record)
    return records
