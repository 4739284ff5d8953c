"""Scoring batches side by side on the CPU: one worker thread ("lane") per core, up to two.

MLX's CPU backend runs a stream's operations one after the other on one thread; only the matrix
products fan out to OpenBLAS's threads. In a forward pass of a small model much of the time goes to
the other operations (norms, attention softmax, activations), so with one stream one core works while
the other mostly waits. Independent batches in separate lanes keep every core busy; OpenBLAS then gets
the cores divided between the lanes (one thread each on a 2-core machine), so the lanes do not fight
over the same cores.

A lane is a long-lived daemon thread (an ``MLXThread``, which synchronizes MLX when the process ends).
Each Python thread gets its own default MLX stream, and a stream can only be used from the thread that
owns it, so the lanes build and evaluate their batches' graphs themselves: the thread that asked for the
work (the command line's main thread, or a worker of the app) only waits and collects the results in
order. One thread submitting for both lanes kept only one of them fed: MLX caps the operations in flight
during an ``eval`` call, so it waited for one lane's queue to drain before it could feed the other.

Each batch runs exactly the operations it runs alone, so its result is the same number whichever lane
scores it; results come back in the order of the items. On a GPU there is one lane, the caller's own
thread (MLX already keeps the GPU busy from one stream).

Arrays the lanes read (the model's weights) must be evaluated by their owner first: a lazy array built
on another thread's stream cannot be computed in a lane.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Each lane holds one batch's activations (the logits alone are rows x width x vocabulary floats), so
#: memory grows with the lanes; two already take the busy-and-waiting split above to both cores, and a
#: third measured no faster on 2 cores. More cores go to OpenBLAS's threads within the two lanes.
MAX_LANES = 2

_LANES: list = []             # the process's lane threads (MLXThread), started on first use and reused
_LANES_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()  # one map at a time: the lanes and OpenBLAS's thread count are shared


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


def _lanes(count: int) -> list:
    from forgellm_tui.core.runtime import MLXThread

    with _LANES_LOCK:
        while len(_LANES) < count:
            _LANES.append(MLXThread(f"forgellm-lane-{len(_LANES)}"))
        return _LANES[:count]


def map_in_lanes(fn: Callable[[T], R], items: Iterable[T], count: int | None = None) -> Iterator[R]:
    """``fn(item)`` for every item, computed on ``count`` lanes (default ``lane_count()``), yielded in the
    items' order. An exception raised by ``fn`` is raised here at its item. Closing the iterator early
    (a cancelled evaluation) stops the lanes taking new items and waits for the ones they are scoring, so
    nothing runs on the model after it returns."""
    count = max(1, lane_count() if count is None else int(count))
    if count == 1:
        for item in items:
            yield fn(item)
        return
    from forgellm_tui.core.runtime import backend

    with _RUN_LOCK, backend.blas_threads(max(1, cpu_cores() // count)):
        yield from _run(fn, iter(items), _lanes(count))


def _run(fn: Callable[[T], R], items: Iterator[T], lanes: list) -> Iterator[R]:
    state = threading.Condition()
    done: dict[int, tuple[bool, object]] = {}
    source = {"next": 0, "stop": False, "busy": len(lanes)}

    def take() -> tuple[int, T] | None:
        with state:
            if source["stop"]:
                return None
            try:
                item = next(items)
            except StopIteration:
                source["stop"] = True
                return None
            except BaseException as exc:  # building the item failed: report it at its place
                source["stop"] = True
                done[source["next"]] = (False, exc)
                state.notify_all()
                return None
            index = source["next"]
            source["next"] += 1
            return index, item

    def work() -> None:
        try:
            while (job := take()) is not None:
                index, item = job
                try:
                    outcome: tuple[bool, object] = (True, fn(item))
                except BaseException as exc:
                    outcome = (False, exc)
                with state:
                    done[index] = outcome
                    if not outcome[0]:
                        source["stop"] = True
                    state.notify_all()
        finally:
            with state:
                source["busy"] -= 1
                state.notify_all()

    for lane in lanes:
        lane.submit(work)
    want = 0
    try:
        while True:
            with state:
                state.wait_for(lambda: want in done or (source["busy"] == 0 and source["stop"]))
                if want not in done:
                    return  # every item was scored
                ok, value = done.pop(want)
            if not ok:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
            want += 1
    finally:
        with state:
            source["stop"] = True
            state.wait_for(lambda: source["busy"] == 0)
