"""Plain data of a chat: sampling settings, messages, streamed chunks and per-reply stats."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from forgellm_tui.core.errors import ConfigError


@dataclass
class SamplingSettings:
    """Sampling for one reply. ``temperature=0`` is greedy; ``seed=None`` is random each reply."""

    temperature: float = 0.7
    top_p: float = 0.9
    min_p: float = 0.0
    top_k: int = 0
    repetition_penalty: float = 1.0   # 1.0 = off
    repetition_context_size: int = 20
    max_tokens: int = 1024
    seed: int | None = None

    def validate(self) -> "SamplingSettings":
        checks = [
            (self.temperature >= 0, "temperature", "use 0 (greedy) or more"),
            (0 <= self.top_p <= 1, "top_p", "use a value from 0 to 1 (0 or 1 = off)"),
            (0 <= self.min_p <= 1, "min_p", "use a value from 0 to 1 (0 = off)"),
            (self.top_k >= 0, "top_k", "use 0 (off) or a positive number"),
            (self.repetition_penalty > 0, "repetition_penalty", "use 1.0 (off) or a value like 1.1"),
            (self.repetition_context_size > 0, "repetition_context_size", "use a positive number"),
            (self.max_tokens > 0, "max_tokens", "use a positive number"),
        ]
        for ok, name, hint in checks:
            if not ok:
                raise ConfigError(f"invalid {name}: {getattr(self, name)!r}", hint=hint)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SamplingSettings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names}).validate()


@dataclass(frozen=True)
class ReplyStats:
    """What one reply cost. ``processed_tokens`` ran through the model; the rest came from the cache."""

    prompt_tokens: int
    processed_tokens: int
    cached_tokens: int
    generated_tokens: int
    ttft_s: float              # from the start of the turn to the first token
    prompt_tps: float          # processed prompt tokens per second
    generation_tps: float      # generated tokens per second after the first
    peak_memory_gb: float
    finish_reason: str         # "stop" (end of turn), "length" (max tokens) or "stopped" (user)
    context_used: int          # tokens of the conversation now held in the cache
    context_length: int | None
    elapsed_s: float = 0.0

    @property
    def context_fraction(self) -> float | None:
        return self.context_used / self.context_length if self.context_length else None

    def line(self) -> str:
        """The one-line summary shown under a reply."""
        parts = [f"{self.generated_tokens} tok", f"{self.generation_tps:.1f} tok/s", f"TTFT {self.ttft_s:.2f} s",
                 f"prompt {self.prompt_tokens} ({self.processed_tokens} new)", f"{self.peak_memory_gb:.2f} GB"]
        if self.context_length:
            parts.append(f"ctx {self.context_used}/{self.context_length} ({100 * self.context_fraction:.0f}%)")
        if self.finish_reason != "stop":
            parts.append(self.finish_reason)
        return " · ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "ReplyStats | None":
        if not isinstance(data, dict):
            return None
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError:
            return None


@dataclass
class ChatMessage:
    role: str                       # "user" or "assistant"
    content: str
    stats: ReplyStats | None = None

    def as_template(self) -> dict:
        return {"role": self.role, "content": self.content}

    def to_dict(self) -> dict:
        out = {"role": self.role, "content": self.content}
        if self.stats is not None:
            out["stats"] = self.stats.to_dict()
        return out


@dataclass(frozen=True)
class Chunk:
    """One streamed event: new text, prompt-processing progress, or the end (``stats`` set)."""

    text: str = ""
    token: int | None = None
    progress: tuple[int, int] | None = None   # (prompt tokens processed, total) before the first token
    stats: ReplyStats | None = None           # only on the last chunk

    @property
    def done(self) -> bool:
        return self.stats is not None

