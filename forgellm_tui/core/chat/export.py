"""Export a conversation as Markdown or JSON (with model, adapter and settings); load JSON back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.chat.types import ChatMessage, ReplyStats, SamplingSettings
from forgellm_tui.core.errors import ConfigError, DataError

FORMAT = "forgellm-tui-chat"
VERSION = 1
_ROLES = ("user", "assistant")


@dataclass
class ChatRecord:
    """A conversation as saved on disk."""

    messages: list[ChatMessage]
    system_prompt: str = ""
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    model: dict | None = None        # name, kind, path, base_path, adapter_path
    prompt_format: str | None = None  # "instruct" or "base"
    exported_at: str = ""


def record_of(session) -> ChatRecord:
    """Snapshot a ChatSession (history, system prompt, settings, the loaded model)."""
    loaded = session.cache.current
    model = model_info(loaded.ref) if loaded is not None else None
    return ChatRecord(messages=list(session.history), system_prompt=session.system_prompt,
                      sampling=SamplingSettings.from_dict(session.sampling.to_dict()), model=model,
                      prompt_format="instruct" if session.is_instruct else "base",
                      exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def model_info(ref) -> dict:
    """A ModelRef as exports record it: name, kind, path, base_path, adapter_path."""
    return {"name": ref.name, "kind": ref.kind, "path": str(ref.path), "base_path": str(ref.base_path),
            "adapter_path": str(ref.adapter_path) if ref.adapter_path else None}


def settings_line(s: SamplingSettings) -> str:
    """The sampling settings as one Markdown list item."""
    return (f"- Settings: temperature {s.temperature}, top-p {s.top_p}, min-p {s.min_p}, top-k {s.top_k}, "
            f"repetition penalty {s.repetition_penalty}, max tokens {s.max_tokens}, seed {s.seed}")


def apply_record(session, record: ChatRecord) -> None:
    """Put a loaded record into a session (the model is the caller's choice; the cache is reset)."""
    session.clear()
    session.history = list(record.messages)
    session.system_prompt = record.system_prompt
    session.sampling = record.sampling


def to_json(record: ChatRecord) -> dict:
    return {"format": FORMAT, "version": VERSION, "exported_at": record.exported_at, "model": record.model,
            "adapter": (record.model or {}).get("adapter_path"), "prompt_format": record.prompt_format,
            "system_prompt": record.system_prompt, "settings": record.sampling.to_dict(),
            "messages": [m.to_dict() for m in record.messages]}


def to_markdown(record: ChatRecord) -> str:
    model = record.model or {}
    s = record.sampling
    lines = [f"# Chat with {model.get('name', 'an unknown model')}", ""]
    if model:
        lines.append(f"- Model: `{model.get('base_path')}` ({model.get('kind')})")
        if model.get("adapter_path"):
            lines.append(f"- Adapter: `{model['adapter_path']}`")
    if record.prompt_format:
        lines.append(f"- Prompt format: {record.prompt_format}")
    lines.append(settings_line(s))
    if record.exported_at:
        lines.append(f"- Exported: {record.exported_at}")
    if record.system_prompt.strip():
        lines += ["", "## System", "", record.system_prompt]
    for m in record.messages:
        lines += ["", f"## {m.role.capitalize()}", "", m.content]
        if m.stats is not None:
            lines += ["", f"*{m.stats.line()}*"]
    return "\n".join(lines) + "\n"


def export_json(record: ChatRecord, path: str | Path) -> Path:
    return fsio.atomic_write_json(path, to_json(record))


def export_markdown(record: ChatRecord, path: str | Path) -> Path:
    return fsio.atomic_write_text(path, to_markdown(record))


def _not_ours(path: Path, why: str) -> DataError:
    return DataError(f"not a chat file this app can read ({why})", path=path,
                     hint="load a .json file saved with the chat's Export JSON")


def load_json(path: str | Path) -> ChatRecord:
    """Read a chat saved by :func:`export_json` (or any JSON with a role/content ``messages`` list)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror})", path=path, hint="check the path") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise _not_ours(path, "not valid JSON") from exc
    if isinstance(data, list):
        data = {"messages": data}
    if not isinstance(data, dict):
        raise _not_ours(path, "the top level is not an object")
    if data.get("format") not in (None, FORMAT):
        raise _not_ours(path, f"format {data.get('format')!r}")
    if isinstance(data.get("version"), int) and data["version"] > VERSION:
        raise DataError(f"saved by a newer version (format version {data['version']})", path=path,
                        hint="update forgellm-tui")
    raw = data.get("messages")
    if not isinstance(raw, list):
        raise _not_ours(path, "no `messages` list")
    system = data.get("system_prompt") if isinstance(data.get("system_prompt"), str) else ""
    messages: list[ChatMessage] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in (*_ROLES, "system"):
            raise _not_ours(path, f"message {i} is not a {{role: user|assistant|system, content: text}} object")
        if m["role"] == "system":
            system = system or m["content"]
        else:
            messages.append(ChatMessage(m["role"], m["content"], ReplyStats.from_dict(m.get("stats"))))
    try:
        sampling = SamplingSettings.from_dict(data.get("settings") if isinstance(data.get("settings"), dict) else {})
    except (ConfigError, TypeError) as exc:
        raise DataError(f"bad settings in the chat file ({exc})", path=path, hint="fix or remove `settings`") from exc
    model = data.get("model") if isinstance(data.get("model"), dict) else None
    fmt = data.get("prompt_format") if data.get("prompt_format") in ("instruct", "base") else None
    return ChatRecord(messages=messages, system_prompt=system, sampling=sampling, model=model,
                      prompt_format=fmt, exported_at=str(data.get("exported_at") or ""))
