"""Supervised tokens of chat data: how many tokens the IFT loss sees, and how many a cut loses.

Counted on the chat template's rendering with the ``train_on`` mask training uses (``rows.tokenize``),
so the numbers are the ones a run reports: ``tokens`` (whole conversations as rendered),
``supervised`` (assistant-turn tokens, uncut), ``lost`` (supervised tokens past ``max_seq_length``)
and ``unstable`` (conversations whose template is not prefix-stable: only their last turn counts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import SimpleNamespace


@dataclass
class Supervision:
    rows: int = 0
    tokens: int = 0
    supervised: int = 0
    lost: int = 0
    unstable: int = 0

    def __add__(self, other: "Supervision") -> "Supervision":
        return Supervision(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def as_dict(self) -> dict:
        return asdict(self)


def chat_cfg(train_on: str = "assistant") -> SimpleNamespace:
    """The data keys ``rows.tokenize`` reads, for files written by ``prepare`` (or in mlx-lm's names)."""
    return SimpleNamespace(chat_feature="messages", prompt_feature="prompt", completion_feature="completion",
                           text_feature="text", effective_train_on=train_on)


def row_format(row: dict) -> str:
    return "completions" if "prompt" in row and "completion" in row else "chat"


def of_rows(data, max_seq_length: int) -> Supervision:
    """The supervision of tokenized rows (``TokenRows``)."""
    supervised = int(data.supervised().sum())
    return Supervision(len(data), data.tokens, supervised, supervised - int(data.supervised(max_seq_length).sum()),
                       data.unstable)


def count(rows: list[dict], tokenizer, max_seq_length: int, train_on: str = "assistant") -> Supervision:
    """The supervision of chat or prompt/completion ``rows`` (formats may mix)."""
    from forgellm_tui.core.tokens.rows import tokenize

    total = Supervision()
    for fmt in ("chat", "completions"):
        part = [r for r in rows if row_format(r) == fmt]
        if part:
            total += of_rows(tokenize(part, fmt, tokenizer, chat_cfg(train_on)), max_seq_length)
    return total


def load_chat_tokenizer(model_path):
    """The model's tokenizer when it has a chat template, else None (supervision cannot be counted)."""
    from pathlib import Path

    from mlx_lm.tokenizer_utils import load

    tokenizer = load(Path(model_path))
    return tokenizer if getattr(tokenizer, "chat_template", None) else None
