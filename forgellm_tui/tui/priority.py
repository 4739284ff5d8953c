"""Keep the screen responsive while a run trains in this process.

Training keeps every core busy (the BLAS threads, MLX's own threads, the worker), and the UI thread
would queue behind them for CPU time: a key press that needs 25 ms of CPU then took 50+ ms. On Linux,
where scheduling priority (niceness) is per thread, every thread but the UI thread is given a lower
priority while a run trains here. Training loses nothing while the UI is idle (priority only decides
who runs first when both want a core) and the UI gets a core at once when a key arrives. Elsewhere
(macOS: niceness is per process) this does nothing.
"""

from __future__ import annotations

import os
import sys
import threading

TRAINING_NICENESS = 5
"""How much lower than the UI thread the other threads run (0–19; 5 gives the UI ~3x their share)."""


def _task_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except (OSError, ValueError):
        return []


def lower_other_threads(niceness: int = TRAINING_NICENESS) -> int:
    """Lower the priority of every thread of this process except the main (UI) thread, and of the
    threads they start from now on. Returns how many threads were changed (0 where unsupported)."""
    if not sys.platform.startswith("linux"):
        return 0
    main = threading.main_thread().native_id
    changed = 0
    for tid in _task_ids():
        if tid == main:
            continue
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            if current < niceness:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
                changed += 1
        except OSError:  # the thread ended meanwhile, or the system refuses: keep going
            continue
    return changed


def thread_niceness(tid: int) -> int | None:
    """The niceness of thread ``tid`` of this process (None where it cannot be read)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:
        return None
