"""Arena rounds as Markdown and JSON, written like a chat export (same model fields and settings line)."""

from __future__ import annotations

from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.arena.records import SIDES, ArenaRecord, now
from forgellm_tui.core.chat import settings_line

FORMAT = "forgellm-tui-arena"
VERSION = 1


def to_json(rounds: list[ArenaRecord]) -> dict:
    return {"format": FORMAT, "version": VERSION, "exported_at": now(), "rounds": [r.to_dict() for r in rounds]}


def to_markdown(rounds: list[ArenaRecord]) -> str:
    lines = ["# Arena", "", f"- Exported: {now()}"]
    for number, record in enumerate(rounds, start=1):
        lines += ["", f"## Round {number}: {record.left.get('name')} vs {record.right.get('name')}", ""]
        for side in SIDES:
            target = getattr(record, side)
            adapter = f" + adapter `{target['adapter_path']}`" if target.get("adapter_path") else ""
            lines.append(f"- {side.capitalize()}: `{target.get('base_path')}`{adapter} ({target.get('kind')})")
        lines.append(settings_line(record.sampling))
        lines.append(f"- Vote: {record.vote or 'none yet'}" + (f" ({record.time})" if record.time else ""))
        if record.system_prompt.strip():
            lines += ["", "### System", "", record.system_prompt]
        lines += ["", "### Prompt", "", record.prompt]
        for side in SIDES:
            lines += ["", f"### {side.capitalize()}: {getattr(record, side).get('name')}", "", record.replies[side]]
            if (stats := record.stats.get(side)) is not None:
                lines += ["", f"*{stats.line()}*"]
    return "\n".join(lines) + "\n"


def export_rounds(rounds: list[ArenaRecord], stem: str | Path) -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.json`` atomically; their paths."""
    stem = Path(stem)
    md = fsio.atomic_write_text(stem.with_suffix(".md"), to_markdown(rounds))
    js = fsio.atomic_write_json(stem.with_suffix(".json"), to_json(rounds))
    return md, js
