"""Scoring batches side by side on the CPU: one MLX stream ("lane") per core, up to two, each with its own thread.

MLX's CPU backend runs a stream's operations one after the other on one thread; only the matrix
products fan out to OpenBLAS's threads. In a forward pass of a small model much of the time goes to
the other operations (norms, attention softmax, the loss over the vocabulary), so with one stream one
core works while the other mostly waits. Independent batches on separate streams keep every core
busy; OpenBLAS then gets the cores divided between the lanes (one thread each on a 2-core machine),
so the lanes do not fight over the same cores. Measured with the demo model on 2 cores: one stream
with two BLAS threads kept one thread busy ~2.9 s for 64 test rows; two lanes of one BLAS thread each
took ~1.3 s on each of two threads (the same total work, done in half the time).

Each batch runs exactly the operations it runs on one stream, on the same rows, so its loss is the
same number; the losses are summed in batch order as before. On a GPU there is one lane (MLX
already keeps the GPU busy from one stream).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Each lane holds one batch's activations (the logits alone are rows x width x vocabulary floats), so
#: memory grows with the lanes; two already take the busy-and-waiting split above to both cores, and a
#: third measured no faster on 2 cores. More cores go to OpenBLAS's threads within the two lanes.
MAX_LANES = 2

_STREAMS: list = []          # the main thread's MLX streams (and their threads), never freed: made once, reused
_LOCK = threading.Lock()


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def lane_count() -> int:
    """How many batches to score side by side: one per core, at most MAX_LANES, on the CPU; else 1."""
    import mlx.core as mx

    if mx.default_device().type != mx.cpu:
        return 1
    return min(cpu_cores(), MAX_LANES)


@contextmanager
def lanes(count: int | None = None) -> Iterator[list]:
    """The streams to score on (``count`` of them, default ``lane_count()``), with OpenBLAS's threads
    divided between them for the duration of the block."""
    import mlx.core as mx

    from forgellm_tui.core.runtime import backend

    count = max(1, lane_count() if count is None else int(count))
    if threading.current_thread() is not threading.main_thread():
        # MLX streams belong to the thread that made them ("There is no Stream(cpu, 1) in current
        # thread" elsewhere), and one made per worker thread would never be freed: the app's workers
        # score on the default stream; the command line (main thread) gets the lanes.
        count = 1
    if count == 1:
        yield [mx.default_stream(mx.default_device())]
        return
    with _LOCK:
        while len(_STREAMS) < count:
            _STREAMS.append(mx.new_stream(mx.cpu))
        streams = _STREAMS[:count]
    with backend.blas_threads(max(1, cpu_cores() // count)):
        yield streams
