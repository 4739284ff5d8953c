"""Writing prepared data: seeded document-level splits and a shuffled JSONL writer in bounded memory."""

from __future__ import annotations

import hashlib
import math
import os
import random
from pathlib import Path
from typing import Sequence

from forgellm_tui.core import fsio

BUCKET_BYTES = 4 << 20
BUFFER_BUDGET = 32 << 20


def seeded_unit(seed: int, key: str) -> float:
    """A stable number in [0, 1) for ``key`` under ``seed``."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_valid(docs: Sequence[tuple[str, int]], fraction: float, seed: int) -> set[str]:
    """Pick whole documents (name, size) for validation: about ``fraction`` of the bytes.

    Documents are taken in seeded-hash order while they fit the budget; at least one document
    goes to validation and at least one stays in training when there are two or more.
    """
    if fraction <= 0 or len(docs) < 2:
        return set()
    budget = fraction * sum(size for _, size in docs)
    return _take(sorted(docs, key=lambda d: seeded_unit(seed, d[0])), budget)


def choose_test(docs: Sequence[tuple[str, int]], fraction: float, seed: int, taken: set[str]) -> set[str]:
    """Pick whole documents for the test split among those not ``taken`` (by validation).

    About ``fraction`` of all the bytes, in a seeded order of its own, so the validation documents
    are the same with or without a test split; at least one document stays in training.
    """
    rest = [d for d in docs if d[0] not in taken]
    if fraction <= 0 or len(rest) < 2:
        return set()
    budget = fraction * sum(size for _, size in docs)
    return _take(sorted(rest, key=lambda d: seeded_unit(seed, "test:" + d[0])), budget)


def _take(order: list[tuple[str, int]], budget: float) -> set[str]:
    """Documents from the front of ``order`` while they fit ``budget``; never all, never none."""
    chosen: set[str] = set()
    used = 0
    for name, size in order:
        if used + size <= budget and len(chosen) < len(order) - 1:
            chosen.add(name)
            used += size
    if not chosen:
        chosen.add(min(order, key=lambda d: d[1])[0])
    return chosen


class ShuffledJsonl:
    """Collect JSON lines and write them in a seeded random order without holding them all.

    Lines go to ``n`` bucket files at random (buffered in memory, flushed when a buffer fills);
    ``finish`` shuffles each bucket in memory and concatenates them. Memory is about one bucket
    (``BUCKET_BYTES``) plus the buffers (``BUFFER_BUDGET``), whatever the corpus size. The scratch
    files live in the output's temporary build folder and are deleted as they are consumed.

    With ``with_ids=True`` each line comes with its token ids, which travel with it (a parallel
    bucket file of uint32 runs, each preceded by its length) and are written in the same order
    (``token_store``).
    """

    def __init__(self, scratch: Path, name: str, expected_bytes: int, seed: int, with_ids: bool = False):
        self.scratch = scratch
        self.name = name
        self.n = max(1, math.ceil(expected_bytes / BUCKET_BYTES))
        self.flush_at = max(64 << 10, min(1 << 20, BUFFER_BUDGET // self.n))
        self.rng = random.Random(f"{seed}:{name}")
        self.buffers: list[list[str]] = [[] for _ in range(self.n)]
        self.id_buffers: list[list] | None = [[] for _ in range(self.n)] if with_ids else None
        self.sizes = [0] * self.n
        self.records = 0

    def _bucket(self, i: int, ids: bool = False) -> Path:
        return self.scratch / f".bucket-{self.name}-{i:05d}{'.ids' if ids else ''}"

    def add(self, line: str, ids=None) -> None:
        import numpy as np  # imported when data is written, not when the app starts
        i = self.rng.randrange(self.n) if self.n > 1 else 0
        self.buffers[i].append(line)
        if self.id_buffers is not None:
            self.id_buffers[i].append(np.asarray(ids, dtype=np.uint32))
        self.sizes[i] += len(line)
        self.records += 1
        if self.n > 1 and self.sizes[i] >= self.flush_at:
            self._flush(i)

    def _flush(self, i: int) -> None:
        import numpy as np  # imported when data is written, not when the app starts
        if not self.buffers[i]:
            return
        # scratch data inside the atomic build folder; the final files go through fsio.atomic_writer
        with open(self._bucket(i), "a", encoding="utf-8") as fh:
            fh.writelines(self.buffers[i])
        if self.id_buffers is not None:
            with open(self._bucket(i, ids=True), "ab") as fh:
                for ids in self.id_buffers[i]:
                    fh.write(np.uint32(len(ids)).tobytes())
                    fh.write(ids.tobytes())
            self.id_buffers[i] = []
        self.buffers[i], self.sizes[i] = [], 0

    def _read_ids(self, i: int) -> list:
        import numpy as np  # imported when data is written, not when the app starts
        bucket = self._bucket(i, ids=True)
        if not bucket.exists():
            return []
        data = np.fromfile(bucket, dtype=np.uint32)
        os.unlink(bucket)
        out, pos = [], 0
        while pos < len(data):
            n = int(data[pos])
            out.append(data[pos + 1:pos + 1 + n])
            pos += 1 + n
        return out

    def finish(self, path: Path, ids_out=None) -> int:
        """Write the shuffled lines to ``path`` (and their ids to ``ids_out``, a ``token_store.IdsWriter``);
        returns the number of records (0: nothing written)."""
        if self.records == 0:
            return 0
        with fsio.atomic_writer(path) as out:
            for i in range(self.n):
                lines = self.buffers[i]
                bucket = self._bucket(i)
                if bucket.exists():
                    with open(bucket, encoding="utf-8") as fh:
                        lines = fh.readlines() + lines
                    os.unlink(bucket)
                order = list(range(len(lines)))
                self.rng.shuffle(order)  # the same draws as shuffling the lines themselves
                out.writelines(lines[k] for k in order)
                if self.id_buffers is not None:
                    ids = self._read_ids(i) + self.id_buffers[i]
                    if ids_out is not None:
                        ids_out.add(ids[k] for k in order)
                    self.id_buffers[i] = []
                self.buffers[i] = []
        return self.records
