"""Runs in background processes: start one that outlives its caller (stopping one by its run folder is
``core.runs.request_stop``).

A detached run trains in ``python -m forgellm_tui train --start-run RUN`` (or ``--resume RUN``) in a
session of its own, so closing the terminal or the app that started it does not stop it; its output
goes to ``RUN/train.log``. Everything that can be refused (the config, the model, the data, a run
folder held by another process, bad hosts) is checked before the process starts, so a refusal is an
error here, not a line in a log nobody reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from forgellm_tui.core import fsio
from forgellm_tui.core.distributed import launch_plan
from forgellm_tui.core.runs import TRAIN_LOG, RunFolder, check_free, read_run_json
from forgellm_tui.core.training.prepare import prepare_run, resume_config, resume_target


@dataclass(frozen=True)
class Detached:
    """A run started in the background."""

    run_dir: Path
    pid: int
    log: Path


def start_detached(cfg, settings, resume_from: Path | None = None, config: Path | None = None,
                   extra: Sequence[str] = (), cwd: Path | None = None) -> Detached:
    """Start ``cfg`` in a background process; ``resume_from``: continue that run (or checkpoint) instead.

    ``config`` and ``extra`` (``--set``/``--hosts`` arguments) are what a resume is given again, as the
    user typed them. Raises the ForgeError that refuses the run before anything is started.
    """
    if cfg.distributed:  # refuse bad hosts now, not in the background
        launch_plan(cfg, settings)
    if resume_from is not None:
        run_dir = resume_target(Path(resume_from))
        check_free(run_dir)  # refuse now, not in the background
        resume_config(cfg, Path(resume_from), None)  # and a setting the resume cannot change
        child = ["train", *([str(Path(config).resolve())] if config else []),
                 "--resume", str(Path(resume_from).resolve()), *extra]
    else:
        run_dir = prepare_run(cfg)
        child = ["train", "--start-run", str(run_dir)]
    log_path = run_dir / TRAIN_LOG
    fsio.ensure_writable_dir(run_dir)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(settings.workspace), *child],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=str(cwd or os.getcwd()), env=dict(os.environ))
    # a caller that lives on (the app) reaps the process when it ends, so its pid does not stay a
    # zombie that looks alive to listings; a caller that exits first leaves it to init
    threading.Thread(target=proc.wait, name=f"forgellm-reap-{proc.pid}", daemon=True).start()
    _mark_starting(run_dir, proc.pid)
    return Detached(run_dir, proc.pid, log_path)


def _mark_starting(run_dir: Path, pid: int) -> None:
    """The child's pid in run.json at once, so listings say ``starting`` (not ``interrupted``) while it loads.

    The child records its own pid too when it opens the folder; this only fills the gap until then.
    """
    info = read_run_json(run_dir)
    if info is not None and info.get("pid") != pid:
        RunFolder(run_dir, info).update(status="starting", pid=pid)
