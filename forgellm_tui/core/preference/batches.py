"""Batches of preference pairs: each pair twice, as prompt + chosen and as prompt + rejected.

A batch of ``B`` pairs is ``(tokens[2B, W] int32, mask[2B, W - 1] float32, pair_ids[B])``: rows
``0..B-1`` are the chosen sequences, rows ``B..2B-1`` the rejected ones in the same pair order, zero
padded; ``mask[r, j]`` is 1 when token ``j + 1`` of row ``r`` is an answer token (a target the loss
scores), so neither the prompt nor the padding ever counts.

Training order is a pure function of ``(seed, epoch)`` (shuffled, sorted by length inside buckets for
little padding, batches shuffled again), so a run resumed from ``position()`` sees exactly the batches
an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

from forgellm_tui.core.errors import DataError
from forgellm_tui.core.preference.pairs import PairSet
from forgellm_tui.core.tokens import epoch_order, padded_width

VALID_SEED = 12345


def make_pair_batch(pairs: PairSet, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batch of pairs ``idx`` (see the module's docstring for its layout)."""
    idx = np.asarray(idx, dtype=np.int64)
    longest = int(pairs.lengths()[idx].max())
    width = padded_width(longest, pairs.max_seq_length)
    count = len(idx)
    tokens = np.zeros((2 * count, width), np.int32)
    targets = np.zeros((2 * count, width), np.float32)
    for side in (0, 1):
        for k, i in enumerate(idx):
            ids, start = pairs.sequence(int(i), rejected=bool(side))
            row = side * count + k
            tokens[row, :len(ids)] = ids
            targets[row, start:len(ids)] = 1.0
    return tokens, targets[:, 1:], idx


class PairStream:
    """Training batches of pairs with a resumable position ``(epoch, index)``.

    ``shard=(rank, size)``: each rank gets pairs ``rank::size`` of every global batch; the position
    stays the global batch index. ``last_tokens``: answer tokens of the whole global batch last
    returned (the same on every rank).
    """

    def __init__(self, pairs: PairSet, batch_size: int, seed: int, epoch: int = 0, index: int = 0,
                 shard: tuple[int, int] = (0, 1)):
        if len(pairs) < batch_size:
            raise DataError(f"batch_size {batch_size} is larger than the {len(pairs)} training pairs",
                            hint=f"set batch_size to at most {len(pairs)}, or prepare more pairs")
        self.pairs, self.batch_size, self.seed = pairs, batch_size, seed
        self.epoch, self.index, self.shard = epoch, index, shard
        self.last_tokens = 0
        self.batches_per_epoch = len(pairs) // batch_size
        self._order: list[np.ndarray] | None = None
        self._answers = np.array([len(c) + len(r) for c, r in zip(pairs.chosen, pairs.rejected)], np.int64)

    def position(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "batch_size": self.batch_size, "seed": self.seed}

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.index >= self.batches_per_epoch:
            self.epoch, self.index, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = epoch_order(self.pairs.lengths(), self.batch_size, self.seed, self.epoch)
        idx = self._order[self.index]
        self.index += 1
        self.last_tokens = int(self._answers[idx].sum())
        if self.shard[1] > 1:
            idx = idx[self.shard[0]::self.shard[1]]
        return make_pair_batch(self.pairs, idx)


def pair_groups(pairs: PairSet, batch_size: int, limit: int | None = None) -> list[np.ndarray]:
    """Fixed groups of pair ids: ``limit`` batches of a fixed random subset (None or < 0: every pair
    once, the last group possibly smaller), sorted by length so a group pads little."""
    if len(pairs) == 0 or limit == 0:
        return []
    size = max(1, min(batch_size, len(pairs)))
    order = np.random.RandomState(VALID_SEED).permutation(len(pairs))
    if limit is not None and limit > 0:
        order = order[:limit * size]
    order = order[np.argsort(pairs.lengths()[order], kind="stable")]
    return [order[i:i + size] for i in range(0, len(order), size)]


def pair_batches(pairs: PairSet, batch_size: int, limit: int | None = None,
                 shard: tuple[int, int] = (0, 1)) -> list:
    """Validation batches: the same pairs in the same groups every time, so losses compare across a run.

    With ``shard=(rank, size)`` each group keeps pairs ``rank::size`` (None where that leaves none), so
    every rank has the same number of entries.
    """
    groups = pair_groups(pairs, batch_size, limit)
    if shard[1] > 1:
        groups = [g[shard[0]::shard[1]] for g in groups]
    return [make_pair_batch(pairs, g) if len(g) else None for g in groups]
