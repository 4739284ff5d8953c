"""Tokens of text: counting, token-exact chunking, and the token ids training reads.

- ``split.py``: the pre-tokenizer's split of byte-level BPE tokenizers, reproduced in Python
- ``engine.py``: token counting and token-exact chunking over a Hugging Face ``tokenizers.Tokenizer``
- ``stats.py``: text statistics (words, lines, tokens) with the token-counting priority chain
- ``rows.py``: rows of training data as token ids, as mlx-lm makes them (``TokenRows``, ``tokenize``)
- ``store.py``: token ids stored with prepared CPT data, so that a run starts without tokenizing again
- ``turns.py``: the token spans of every assistant turn, from the chat template rendered turn by turn
- ``order.py``: the seeded, length-bucketed order of training batches (rows or preference pairs)
- ``widths.py``: how wide a batch is padded (``padded_width``)
- ``supervision.py``: how many tokens of chat data the IFT loss sees (``Supervision``, ``count``)

``prepare`` writes the stored ids through ``store`` as a namespace (``from forgellm_tui.core.tokens
import store as token_store``); preference pairs render prompts and answers through ``turns`` likewise.
"""

from __future__ import annotations

import importlib

from forgellm_tui.core.tokens.stats import (WORDS_PER_PAGE, TokenCounter, count_lines, count_words,
                                            has_tokenizer_files)
from forgellm_tui.core.tokens.widths import padded_width

__all__ = ["TokenCounter", "TokenRows", "WORDS_PER_PAGE", "count_lines", "count_words", "epoch_order", "has_tokenizer_files",
           "load_or_tokenize", "padded_width", "store", "supervision", "tokenize", "turns", "widest_first"]

#: Names served from modules that import numpy: loaded on first use, so that importing this package (as
#: the app does at start, through the datasets package) stays cheap.
_LAZY = {"TokenRows": "rows", "tokenize": "rows", "load_or_tokenize": "store", "epoch_order": "order", "widest_first": "order", "store": None, "rows": None,
         "supervision": None, "turns": None}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name] or name}")
    return module if _LAZY[name] is None else getattr(module, name)
