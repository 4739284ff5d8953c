"""Stop a run in a background process by its run folder (starting one is ``core.training.start_detached``).

A run is stopped from outside by SIGTERM to the pid ``run.json`` names (the trainer while it trains,
the supervisor while it restarts one, rank 0 of a distributed run): the trainer finishes its step,
saves a checkpoint and records ``stopped``, as for Ctrl-C in its terminal.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from forgellm_tui.core.runs.reader import process_alive, read_run_json

#: statuses of a run whose process may still be told to stop
STOPPABLE = ("queued", "starting", "running", "paused", "stopping")


def request_stop(run_dir: Path) -> int | None:
    """Ask the process training ``run_dir`` to stop after its current step, with a checkpoint.

    Returns the pid asked, or None when no process of the run is alive on this machine (it ended, it
    runs on another host, or it never started).
    """
    info = read_run_json(Path(run_dir)) or {}
    pid = info.get("pid")
    if info.get("status") not in STOPPABLE or not isinstance(pid, int) or not process_alive(pid, info.get("host")):
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:  # it ended just now
        return None
    return pid
