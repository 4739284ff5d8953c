"""Preference pairs as token ids: the prompt, and each answer as the chat template renders it after the prompt.

The prompt is the conversation rendered with the generation prompt (what a model is given before it
answers); an answer is everything the template renders after that prompt once the assistant's reply is
added: its content and end-of-turn token(s). When a template does not render the prompt as a token
prefix of the whole conversation (some open a reasoning block in the generation prompt only), the prompt
is the longest part of its rendering that both answered renderings start with, so the two answers are
still scored after the same tokens and each answer keeps every token the template renders for it.

A tokenizer without a chat template gets the plain text: the messages' contents (a bare prompt is just
the user's text), and each answer as its own text followed by the end-of-sequence token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgellm_tui.core.errors import DataError
from forgellm_tui.core.tokens import turns


@dataclass
class PairSet:
    """Tokenized pairs: ``prompts[i]``, ``chosen[i]`` and ``rejected[i]`` are int32 id arrays of pair ``i``.

    Answers are already cut so that prompt + answer fits in ``max_seq_length``.
    """

    prompts: list[np.ndarray]
    chosen: list[np.ndarray]
    rejected: list[np.ndarray]
    max_seq_length: int
    truncated: int = 0   # pairs with at least one answer cut short by max_seq_length
    unstable: int = 0    # pairs whose template did not render the prompt as a prefix of the answers
    _lengths: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def prompt_tokens(self) -> int:
        return int(sum(len(p) for p in self.prompts))

    @property
    def chosen_tokens(self) -> int:
        return int(sum(len(a) for a in self.chosen))

    @property
    def rejected_tokens(self) -> int:
        return int(sum(len(a) for a in self.rejected))

    @property
    def tokens(self) -> int:
        """Tokens the model reads for every pair once: the prompt twice (before each answer) and both answers."""
        return 2 * self.prompt_tokens + self.chosen_tokens + self.rejected_tokens

    @property
    def answer_tokens(self) -> int:
        """Tokens the preference loss scores (both answers of every pair)."""
        return self.chosen_tokens + self.rejected_tokens

    def lengths(self) -> np.ndarray:
        """Per pair, the longer of its two sequences (prompt + answer): what a batch's width depends on."""
        if self._lengths is None:
            self._lengths = np.array([len(p) + max(len(c), len(r)) for p, c, r in
                                      zip(self.prompts, self.chosen, self.rejected)], dtype=np.int64)
        return self._lengths

    def sequence(self, i: int, rejected: bool = False) -> tuple[np.ndarray, int]:
        """``(ids, prompt length)`` of pair ``i``'s chosen (or rejected) sequence."""
        answer = self.rejected[i] if rejected else self.chosen[i]
        return np.concatenate([self.prompts[i], answer]), len(self.prompts[i])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def has_chat_template(tokenizer) -> bool:
    if hasattr(tokenizer, "has_chat_template"):
        return bool(tokenizer.has_chat_template)
    return bool(getattr(tokenizer, "chat_template", True))


def _templated(tokenizer, messages: list[dict], chosen: str, rejected: str) -> tuple[list[int], list, list, bool]:
    prompt = turns.render(tokenizer, messages, generation_prompt=True)
    full = [turns.render(tokenizer, messages + [{"role": "assistant", "content": answer}])
            for answer in (chosen, rejected)]
    if full[0][:len(prompt)] == prompt and full[1][:len(prompt)] == prompt:
        cut, stable = len(prompt), True
    else:
        cut, stable = min(_common_prefix(prompt, full[0]), _common_prefix(prompt, full[1])), False
    return full[0][:cut], full[0][cut:], full[1][cut:], stable


def _plain(tokenizer, messages: list[dict], chosen: str, rejected: str) -> tuple[list[int], list, list, bool]:
    prompt = list(tokenizer.encode("\n\n".join(m["content"] for m in messages)))
    eos = getattr(tokenizer, "eos_token_id", None)
    tail = [eos] if eos is not None else []
    answers = [list(tokenizer.encode(text, add_special_tokens=False)) + tail for text in (chosen, rejected)]
    return prompt, answers[0], answers[1], True


def tokenize_pairs(records, tokenizer, max_seq_length: int, path: str | Path | None = None,
                   progress=None) -> PairSet:
    """Token ids of preference ``records`` (``PreferenceRecord``s, line ``i + 1`` of ``path``).

    A pair whose prompt leaves no room for an answer token is a ``DataError`` naming its line.
    ``progress(pairs_done)`` is called every 256 pairs and at the end.
    """
    encode = _templated if has_chat_template(tokenizer) else _plain
    prompts, chosen, rejected = [], [], []
    truncated = unstable = 0
    for line, record in enumerate(records, 1):
        prompt, good, bad, stable = encode(tokenizer, [dict(m) for m in record.messages], record.chosen,
                                           record.rejected)
        room = max_seq_length - len(prompt)
        if room <= 0:
            raise DataError(f"line {line}: the prompt is {len(prompt)} tokens, max_seq_length is {max_seq_length}: "
                            "both answers are truncated away", path=path,
                            hint="raise max_seq_length or shorten the prompt")
        truncated += len(good) > room or len(bad) > room
        unstable += not stable
        prompts.append(np.asarray(prompt, dtype=np.int32))
        chosen.append(np.asarray(good[:room], dtype=np.int32))
        rejected.append(np.asarray(bad[:room], dtype=np.int32))
        if progress is not None and line % 256 == 0:
            progress(line)
    if progress is not None:
        progress(len(prompts))
    return PairSet(prompts, chosen, rejected, max_seq_length, truncated, unstable)
