"""Rows of training data as token ids: what mlx-lm's datasets make of ``{"text"}``, ``{"messages"}``
and ``{"prompt", "completion"}`` rows, stored flat (one array of ids, a start and a length per row).

``cfg`` is anything with the training config's data keys (``text_feature``, ``chat_feature``,
``prompt_feature``, ``completion_feature``, ``effective_train_on``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forgellm_tui.core.tokens.turns import assistant_spans, render

TOKENIZE_BATCH = 512  # rows per call to the tokenizer (and per progress report)


@dataclass
class TokenRows:
    """Rows of token ids stored flat: row i is ``flat[starts[i]:starts[i] + lengths[i]]``.

    The loss sees token ``p`` of row i (``p >= 1``, the first token is never a target) when
    ``mask[starts[i] + p]`` is set, or, without a mask, when ``p >= offsets[i]``.
    """

    flat: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray       # first position that counts in the loss (prompt masking)
    mask: np.ndarray | None = None  # bool per token of ``flat``: counts in the loss (several assistant turns)
    unstable: int = 0         # conversations whose template is not prefix-stable: trained on the last turn only

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())

    def row_mask(self, i: int, n: int) -> np.ndarray:
        """Which of the first ``n`` tokens of row ``i`` are loss targets (bool, the first one never)."""
        if self.mask is not None:
            out = self.mask[self.starts[i]:self.starts[i] + n].copy()
        else:
            out = np.arange(n) >= self.offsets[i]
        out[:1] = False
        return out

    def supervised(self, max_seq_length: int | None = None) -> np.ndarray:
        """Loss-bearing tokens of each row once cut to ``max_seq_length`` (None: not cut)."""
        lens = self.lengths if max_seq_length is None else np.minimum(self.lengths, max_seq_length)
        if self.mask is None:
            return np.maximum(lens - np.maximum(self.offsets, 1), 0)
        sums = np.concatenate([[0], np.cumsum(self.mask, dtype=np.int64)])
        first = np.minimum(self.starts + 1, self.starts + lens)
        return sums[self.starts + lens] - sums[first]


def _from_lists(seqs: list[list[int]], offsets: list[int], masks: list[list[bool]] | None = None,
                unstable: int = 0) -> TokenRows:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(seqs) else np.zeros(0, np.int64)
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(lengths.sum()))
    mask = None
    if masks is not None:
        mask = np.fromiter((b for m in masks for b in m), dtype=bool, count=int(lengths.sum()))
    return TokenRows(flat, starts, lengths, np.array(offsets, dtype=np.int64), mask, unstable)


def _text_rows(rows: list[dict], tokenizer, cfg, progress) -> TokenRows:
    seqs: list[list[int]] = []
    hf = getattr(tokenizer, "_tokenizer", tokenizer)
    eos = tokenizer.eos_token_id
    texts = [r[cfg.text_feature] for r in rows]
    for i in range(0, len(texts), TOKENIZE_BATCH):
        for ids in hf(texts[i:i + TOKENIZE_BATCH])["input_ids"]:
            ids = list(ids)
            if eos is not None and (not ids or ids[-1] != eos):
                ids.append(eos)
            seqs.append(ids)
        if progress is not None:
            progress(len(seqs))
    return _from_lists(seqs, [0] * len(seqs))


def conversation(row: dict, fmt: str, cfg) -> list[dict]:
    if fmt == "chat":
        return row[cfg.chat_feature]
    return [{"role": "user", "content": row[cfg.prompt_feature]},
            {"role": "assistant", "content": row[cfg.completion_feature]}]


def last_offset(tokenizer, messages: list[dict], tools) -> int:
    """mlx-lm's prompt offset: the length of everything before the last message (with the generation
    prompt when that message is the assistant's)."""
    gen = messages[-1].get("role") == "assistant"
    return len(render(tokenizer, messages[:-1], tools, generation_prompt=gen))


def masked_row(tokenizer, messages: list[dict], tools, train_on: str) -> tuple[list[int], int, list[bool] | None]:
    """``(ids, offset, mask)`` of one conversation; ``mask`` None for ``last``/``all`` and when the
    template is not prefix-stable (the row then trains on the last turn, from ``offset``)."""
    ids = render(tokenizer, messages, tools)
    if train_on == "all":
        return ids, 0, None
    offset = last_offset(tokenizer, messages, tools)
    if train_on == "last":
        return ids, offset, None
    spans = assistant_spans(tokenizer, messages, tools, ids)
    if spans is None:
        return ids, offset, None
    mask = [False] * len(ids)
    for start, end in spans:
        mask[start:end] = [True] * (end - start)
    return ids, (spans[0][0] if spans else len(ids)), mask


def tokenize(rows: list[dict], fmt: str, tokenizer, cfg, progress=None) -> TokenRows:
    """Token ids as mlx-lm's datasets make them (EOS appended to text; chat template for IFT), with the
    loss mask of ``cfg.effective_train_on`` for conversations.

    ``progress(rows_done)`` is called every ``TOKENIZE_BATCH`` rows and at the end.
    """
    if fmt == "text":
        return _text_rows(rows, tokenizer, cfg, progress)
    train_on = cfg.effective_train_on
    seqs: list[list[int]] = []
    offsets: list[int] = []
    masks: list[list[bool]] = []
    unstable = 0
    for n, row in enumerate(rows, 1):
        if progress is not None and n % TOKENIZE_BATCH == 0:
            progress(n)
        ids, offset, mask = masked_row(tokenizer, conversation(row, fmt, cfg), row.get("tools"), train_on)
        if train_on == "assistant" and mask is None:
            unstable += 1
            mask = [p >= offset for p in range(len(ids))]
        seqs.append(ids)
        offsets.append(offset)
        if mask is not None:
            masks.append(mask)
    if progress is not None:
        progress(len(seqs))
    return _from_lists(seqs, offsets, masks if train_on == "assistant" else None, unstable)
