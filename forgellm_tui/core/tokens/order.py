"""The order in which training reads its rows (or preference pairs): one function of ``(seed, epoch)``.

Rows are shuffled, sorted by length within buckets of ``BUCKET`` batches (so a batch pads little), cut
into batches and the batches shuffled again. Because the order depends on nothing but the seed, the
epoch and the lengths, a run resumed from a checkpoint reads exactly the batches the uninterrupted
run would have read.
"""

from __future__ import annotations

import numpy as np

BUCKET = 16  # batches per length-sorting bucket


def epoch_order(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The batches of one epoch (indices into ``lengths``): shuffled, length-sorted within buckets, then
    shuffled again.

    Rows left over (fewer than a batch) differ per epoch. The first epoch starts with its widest batch
    (the rest keep their order), so a run that cannot fit in memory fails at its first step, not hours in.
    """
    n = len(lengths)
    rng = np.random.RandomState((seed * 1_000_003 + epoch * 7919) % (2**32))
    perm = rng.permutation(n)
    bucket = batch_size * BUCKET
    batches: list[np.ndarray] = []
    usable = (n // batch_size) * batch_size
    perm = perm[:usable]
    for i in range(0, usable, bucket):
        chunk = perm[i:i + bucket]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    order = [batches[i] for i in rng.permutation(len(batches))]
    return widest_first(order, lengths) if epoch == 0 else order


def widest_first(batches: list[np.ndarray], lengths: np.ndarray) -> list[np.ndarray]:
    """The batch holding the longest row first, then the others in their order."""
    if not batches:
        return batches
    widest = int(np.argmax([int(lengths[b].max()) for b in batches]))
    return [batches[widest], *batches[:widest], *batches[widest + 1:]]
