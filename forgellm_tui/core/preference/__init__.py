"""Preference training (DPO, ORPO): the pieces that need no training loop.

- ``pairs.py``: pairs as token ids (``tokenize_pairs``, ``PairSet``): the prompt, and each answer as the
  chat template renders it after the prompt, cut to ``max_seq_length``
- ``batches.py``: batches of pairs, chosen rows then rejected rows (``PairStream`` for training, resumable;
  ``pair_batches`` for validation)
- ``losses.py``: answer log-probabilities (``sequence_logps``) and the losses (``dpo_loss``, ``orpo_loss``)
- ``reference.py``: the reference model's log-probabilities, computed once (``compute_reference``) and kept
  in the run folder (``save_reference``, ``load_reference``)

Names load on first use: importing this package costs nothing until a preference run needs it.
"""

from __future__ import annotations

import importlib

_LAZY = {"PairSet": "pairs", "tokenize_pairs": "pairs", "PairStream": "batches", "pair_batches": "batches",
         "make_pair_batch": "batches", "sequence_logps": "losses", "dpo_loss": "losses", "orpo_loss": "losses",
         "compute_reference": "reference", "save_reference": "reference", "load_reference": "reference",
         "reference_identity": "reference", "file_hash": "reference"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
