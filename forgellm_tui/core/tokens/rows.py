"""Rows of training data as token ids: what mlx-lm's datasets make of ``{"text"}``, ``{"messages"}``
and ``{"prompt", "completion"}`` rows, stored flat (one array of ids, a start and a length per row).

``cfg`` is anything with the training config's data keys (``text_feature``, ``chat_feature``,
``prompt_feature``, ``completion_feature``, ``effective_mask_prompt``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOKENIZE_BATCH = 512  # rows per call to the tokenizer (and per progress report)


@dataclass
class TokenRows:
    """Rows of token ids stored flat: row i is ``flat[starts[i]:starts[i] + lengths[i]]``."""

    flat: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray       # first position that counts in the loss (prompt masking)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())


def _from_lists(seqs: list[list[int]], offsets: list[int]) -> TokenRows:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(seqs) else np.zeros(0, np.int64)
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(lengths.sum()))
    return TokenRows(flat, starts, lengths, np.array(offsets, dtype=np.int64))


def tokenize(rows: list[dict], fmt: str, tokenizer, cfg, progress=None) -> TokenRows:
    """Token ids as mlx-lm's datasets make them (EOS appended to text; chat template for IFT).

    ``progress(rows_done)`` is called every ``TOKENIZE_BATCH`` rows and at the end.
    """
    seqs: list[list[int]] = []
    offsets: list[int] = []
    if fmt == "text":
        hf = getattr(tokenizer, "_tokenizer", tokenizer)
        eos = tokenizer.eos_token_id
        texts = [r[cfg.text_feature] for r in rows]
        for i in range(0, len(texts), TOKENIZE_BATCH):
            for ids in hf(texts[i:i + TOKENIZE_BATCH])["input_ids"]:
                ids = list(ids)
                if eos is not None and (not ids or ids[-1] != eos):
                    ids.append(eos)
                seqs.append(ids)
                offsets.append(0)
            if progress is not None:
                progress(len(seqs))
        return _from_lists(seqs, offsets)
    mask = cfg.effective_mask_prompt
    for n, row in enumerate(rows, 1):
        if progress is not None and n % TOKENIZE_BATCH == 0:
            progress(n)
        if fmt == "chat":
            messages = row[cfg.chat_feature]
        else:
            messages = [{"role": "user", "content": row[cfg.prompt_feature]},
                        {"role": "assistant", "content": row[cfg.completion_feature]}]
        tools = row.get("tools")
        ids = list(tokenizer.apply_chat_template(messages, tools=tools, return_dict=False))
        offset = 0
        if mask:
            gen = messages[-1].get("role") == "assistant"
            offset = len(tokenizer.apply_chat_template(messages[:-1], tools=tools, add_generation_prompt=gen,
                                                       return_dict=False))
        seqs.append(ids)
        offsets.append(offset)
    if progress is not None:
        progress(len(seqs))
    return _from_lists(seqs, offsets)
