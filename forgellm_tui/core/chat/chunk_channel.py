"""Chunks from the MLX thread to the thread that reads a reply, handed over in batches.

Handing over every token on its own (a queue put that wakes the reader, and a switch of the GIL to
it) costs the MLX thread a thread switch per token: inside the app, where the UI thread also wants
the GIL, decoding measured 12–25% slower than a headless reader. Here the MLX thread only appends;
the reader is woken at once for the first chunk it waits for, for a chunk put with ``now=True``
(the first token of a reply: its time to first token is not delayed) and when the reply ends, and
otherwise takes whatever arrived every ``interval`` seconds (a batch of tokens at once). A reader that
needs each token as it comes passes ``interval=0``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Iterator


class ChunkChannel:
    """One writer (``put``, ``close``), one reader (``batches``)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._items: deque = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._now = False  # a chunk that must not wait for the interval is in
        self._reader_idle = False  # the reader holds nothing and waits for the next chunk

    def put(self, item: Any, now: bool = False) -> None:
        """Append ``item``; wakes the reader only if it has nothing to do or ``now`` (no per-token wake-up)."""
        with self._cond:
            self._items.append(item)
            self._now = self._now or now
            if self._reader_idle or now or self.interval <= 0:
                self._cond.notify()

    def close(self) -> None:
        """No more items: the reader takes what is left now, without waiting out the interval."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def batches(self) -> Iterator[list]:
        """Lists of items in order, until :meth:`close`; at most one list per ``interval`` after the first."""
        last = None
        while True:
            with self._cond:
                if last is not None and self.interval > 0:  # let tokens gather, unless the reply ends
                    deadline = last + self.interval
                    while not (self._closed or self._now) and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                self._reader_idle = True
                while not self._items and not self._closed:
                    self._cond.wait()
                self._reader_idle = self._now = False
                batch = list(self._items)
                self._items.clear()
                done = self._closed
            last = time.monotonic()
            if batch:
                yield batch
            if done:
                return
