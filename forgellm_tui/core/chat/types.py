"""Plain data of a chat: sampling settings, messages, streamed chunks and per-reply stats."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as checked_dataclass

from forgellm_tui.core.errors import ConfigError, first_invalid


# defer_build: the validator is built when the first one is made, not when the app starts
@checked_dataclass(config=ConfigDict(extra="forbid", defer_build=True))
class SamplingSettings:
    """Sampling for one reply. ``temperature=0`` is greedy; ``seed=None`` is random each reply.

    Checked when made: a value out of range raises ConfigError naming it, with ``fix`` as the hint.
    """

    temperature: float = Field(0.7, ge=0, description="randomness of the choice of each token; 0 = greedy",
                               json_schema_extra={"fix": "use 0 (greedy) or more"})
    top_p: float = Field(0.9, ge=0, le=1,
                         description="sample from the most likely tokens that together have this probability",
                         json_schema_extra={"fix": "use a value from 0 to 1 (0 or 1 = off)"})
    min_p: float = Field(0.0, ge=0, le=1,
                         description="drop tokens less likely than this fraction of the most likely one",
                         json_schema_extra={"fix": "use a value from 0 to 1 (0 = off)"})
    top_k: int = Field(0, ge=0, description="sample from this many most likely tokens; 0 = all",
                       json_schema_extra={"fix": "use 0 (off) or a positive number"})
    repetition_penalty: float = Field(1.0, gt=0, description="divide the score of recent tokens by this; 1.0 = off",
                                      json_schema_extra={"fix": "use 1.0 (off) or a value like 1.1"})
    repetition_context_size: int = Field(20, gt=0, description="how many recent tokens the penalty looks at",
                                         json_schema_extra={"fix": "use a positive number"})
    max_tokens: int = Field(1024, gt=0, description="longest reply in tokens",
                            json_schema_extra={"fix": "use a positive number"})
    seed: int | None = Field(None, description="random seed of the sampling; null = random each reply",
                             json_schema_extra={"fix": "use a whole number, or leave it empty (random)"})

    @model_validator(mode="wrap")
    @classmethod
    def _one_line(cls, data: Any, handler) -> "SamplingSettings":
        try:
            return handler(data)
        except ValidationError as exc:
            name, value = first_invalid(cls, exc)
            fix = cls.__pydantic_fields__[name].json_schema_extra["fix"] if name in cls.__pydantic_fields__ else None
            raise ConfigError(f"invalid {name}: {value!r}", hint=fix) from None

    def validate(self) -> "SamplingSettings":
        """Check values changed since it was made (ConfigError naming the first bad one)."""
        type(self)(**self.to_dict())
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SamplingSettings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


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

