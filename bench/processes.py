"""Benchmark commands run as child processes: started with their output in log files, timed to the
moment each one ends (two started together end at different times), their output read back."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def spawn(cmd: list[str], cwd: Path, logs: Path, tag: str, env: dict) -> dict:
    """Start ``cmd``; its stdout and stderr go to ``logs/<tag>.out`` and ``.err``."""
    out, err = open(logs / f"{tag}.out", "w+"), open(logs / f"{tag}.err", "w+")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
    return {"proc": proc, "out": out, "err": err, "started": time.perf_counter(), "ended": None, "tag": tag}


def wait(*jobs: dict, timeout: float = 1800) -> None:
    """Wait for every job, noting when each one ends."""
    deadline = time.perf_counter() + timeout
    while any(job["ended"] is None for job in jobs):
        for job in jobs:
            if job["ended"] is None and job["proc"].poll() is not None:
                job["ended"] = time.perf_counter()
        if time.perf_counter() > deadline:
            raise SystemExit("a benchmark command ran for more than 30 minutes")
        time.sleep(0.02)


def finish(job: dict, what: str | None = None) -> tuple[str, float]:
    """``(stdout without colour codes, wall seconds)``; SystemExit with the output's tail if it failed."""
    wait(job)
    job["out"].seek(0)
    job["err"].seek(0)
    text, errors = ANSI.sub("", job["out"].read()), job["err"].read()
    if job["proc"].returncode:
        raise SystemExit(f"{what or job['tag']} failed ({job['proc'].returncode}):\n{text[-2000:]}\n{errors[-2000:]}")
    return text, job["ended"] - job["started"]
