"""Background runs through core: ``start_detached`` starts one that outlives its caller, ``request_stop``
stops it by its run folder (a request its loop reads between steps; a checkpoint first)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs.checkpoints import latest_checkpoint
from forgellm_tui.core.runs.detach import request_stop
from forgellm_tui.core.training.background import start_detached
from forgellm_tui.core.runs.reader import process_alive, read_metrics, read_run_json
from forgellm_tui.settings import Settings
from train_helpers import make_cfg

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _wait(condition, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def _end(pid: int | None) -> None:
    """Leave no process behind when the test failed half-way."""
    if isinstance(pid, int) and process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def test_a_detached_run_trains_in_its_own_session_and_stops_when_asked(workspace):
    cfg = make_cfg(workspace, name="bg-stop", max_iterations=400, save_every=1000, steps_per_report=1,
                   steps_per_eval=1000, early_stopping=False)
    started = start_detached(cfg, Settings.load(workspace, env={}), cwd=workspace)
    run = started.run_dir
    trainer = None
    try:
        assert run == workspace / "models" / "cpt" / "bg-stop" and started.log == run / "train.log"
        assert os.getsid(started.pid) == started.pid  # a session of its own: closing ours does not reach it
        _wait(lambda: len(read_metrics(run)[0]) >= 3, "the run never trained", 300)  # iterations 0, 1, 2
        trainer = read_run_json(run)["pid"]
        assert request_stop(run) == trainer
        info = _wait(lambda: (i := read_run_json(run)) and i["status"] == "stopped" and i,
                     "the run did not stop when asked", 120)
        assert info["stop_reason"] == "stopped by user" and info["stop_cause"] == "user"  # asked, not signalled
        assert not (run / "control.json").exists() and json.loads((run / "control-result.json").read_text())["ok"]
        assert 2 <= info["iteration"] < 400 and latest_checkpoint(run).name == f"{info['iteration']:07d}"
        _wait(lambda: not process_alive(started.pid), "the background process did not exit", 120)
        assert request_stop(run) is None  # ended: nobody to ask
    finally:
        _end(trainer)
        _end(started.pid)


def test_a_refused_run_starts_nothing_and_leaves_nothing(workspace):
    cfg = make_cfg(workspace, name="bg-refused", data="data/does-not-exist")
    with pytest.raises(ForgeError, match="does-not-exist"):
        start_detached(cfg, Settings.load(workspace, env={}), cwd=workspace)
    assert not (workspace / "models" / "cpt" / "bg-refused").exists()


def test_request_stop_without_a_live_process_here_asks_nobody(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert request_stop(run) is None  # no run.json
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        for record in ({"status": "running", "pid": 2 ** 22 + 12345},          # above any pid: gone
                       {"status": "finished", "pid": alive.pid},               # ended: its pid is someone else's
                       {"status": "running", "pid": alive.pid, "host": "another-machine"}):
            (run / "run.json").write_text(json.dumps(record))
            assert request_stop(run) is None, record
        assert alive.poll() is None  # never signalled
    finally:
        alive.kill()
        alive.wait()
