"""Stop a run in a background process by its run folder (starting one is ``core.training.start_detached``).

A run whose loop trains (``running`` or ``paused`` in ``run.json``) is asked through its folder
(``requests.py``): the loop reads the request between steps, saves a checkpoint and records
``stopped``. Before the loop reads requests (the process is still loading, or a supervisor restarts
the trainer) the pid ``run.json`` names gets SIGTERM, which does the same, as Ctrl-C in its terminal.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs import requests
from forgellm_tui.core.runs.reader import process_alive, read_run_json

#: statuses of a run whose process may still be told to stop
STOPPABLE = ("queued", "starting", "running", "paused", "stopping")
#: statuses in which the training loop reads the folder's requests between steps
READING = ("running", "paused")


def request_stop(run_dir: Path) -> int | None:
    """Ask the process training ``run_dir`` to stop after its current step, with a checkpoint.

    Returns the pid asked, or None when no process of the run is alive on this machine (it ended, it
    runs on another host, or it never started).
    """
    info = read_run_json(Path(run_dir)) or {}
    pid = info.get("pid")
    if info.get("status") not in STOPPABLE or not isinstance(pid, int) or not process_alive(pid, info.get("host")):
        return None
    if info.get("status") in READING:
        try:
            requests.send(Path(run_dir), "stop")
            return pid
        except ForgeError:  # a request already waits: the signal does not queue behind it
            pass
        except OSError:  # the folder cannot be written: the signal still reaches the process
            pass
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:  # it ended just now
        return None
    return pid
