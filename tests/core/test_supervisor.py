"""A headless run whose training process is killed outright (as the kernel's out-of-memory killer
does) is recorded and, while the batch can be halved, restarts from its newest checkpoint.

The kill is real (SIGKILL to the training process, found by ``run.json``'s pid). To kill it at a
known point, a ``sitecustomize`` on the children's ``PYTHONPATH`` makes the first training process
wait at one iteration (fault injection only: the restarted process trains untouched).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forgellm_tui.core.runs.lock import LOCK, RunLock

from train_helpers import metrics_lines, run_json, small_cpt

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

# Imported by every Python process of the test; only a supervised training child is changed, and
# only the first one (the marker file says a child already waited).
HANG = '''
import os, sys, time
if "--supervised" in sys.argv and not os.path.exists(os.environ["HANG_MARKER"]):
    import forgellm_tui.core.training as training  # the train command calls the package's train
    real, at = training.train, int(os.environ["HANG_AT"])

    def hang(iteration):
        if iteration == at:
            open(os.environ["HANG_MARKER"], "w").close()
            print("HANGING", flush=True)
            time.sleep(600)

    def train(*args, **kwargs):
        return real(*args, fault_hook=hang, **kwargs)

    training.train = train
'''


def _start(ws: Path, tmp_path: Path, name: str, hang_at: int, **over) -> subprocess.Popen:
    raw = {"model": "models/base/forge-tiny", "data": small_cpt(ws), "max_iterations": 6, "batch_size": 4,
           "max_seq_length": 64, "learning_rate": 1e-3, "lora_parameters": {"rank": 4}, "steps_per_report": 1,
           "steps_per_eval": 100, "val_batches": 1, "save_every": 2, "seed": 3, **over}
    config = ws / "configs" / f"{name}.yaml"
    config.write_text(yaml.safe_dump(raw))
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HANG)
    env = dict(os.environ, PYTHONUNBUFFERED="1", HANG_AT=str(hang_at), HANG_MARKER=str(tmp_path / f"{name}.hung"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train", str(config),
                             "--name", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _kill_trainer_when_hanging(proc: subprocess.Popen, run: Path) -> tuple[int, str]:
    """SIGKILL the training process (``run.json``'s pid) once it waits; (its pid, output so far)."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "HANGING" in line:
            break
    assert "HANGING" in "".join(seen), "".join(seen)[-2000:]
    pid = run_json(run)["pid"]
    assert pid != proc.pid and run_json(run)["status"] == "running"   # the trainer is a child of the command
    os.kill(pid, signal.SIGKILL)
    return pid, "".join(seen)


def _finish(proc: subprocess.Popen, before: str) -> str:
    try:
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    return before + out


def _free(run: Path) -> bool:
    RunLock.acquire(run).release()
    return (run / LOCK).read_text() == ""


def test_a_killed_trainer_restarts_at_half_the_batch_from_its_newest_checkpoint(workspace, tmp_path):
    proc = _start(workspace, tmp_path, "killed", hang_at=5)   # checkpoint 4 is on disk at iteration 5
    run = workspace / "models" / "cpt" / "killed"
    killed, before = _kill_trainer_when_hanging(proc, run)
    out = _finish(proc, before)
    assert proc.returncode == 0, out[-3000:]
    assert "recovered: the training process was killed by SIGKILL (likely out of memory" in out
    assert "batch_size 4 -> 2, grad_accumulation_steps 1 -> 2; restarting from 0000004" in out
    info = run_json(run)
    assert info["status"] == "finished" and info["iteration"] == 6 and info["pid"] != killed
    assert info["oom_recoveries"] == [{"iteration": info["oom_recoveries"][0]["iteration"],
                                       "error": info["oom_recoveries"][0]["error"], "batch_size": 2,
                                       "grad_accumulation_steps": 2, "restarted_from": "0000004"}]
    assert "killed by SIGKILL" in info["oom_recoveries"][0]["error"]
    assert info["resumed_from"][-1]["iteration"] == 4
    assert "SIGKILL" in (run / "error.log").read_text()
    # the optimizer batch stays 4 sequences: 2 x 2 from the checkpoint on, in the run's config too
    state = json.loads((run / "checkpoints" / "0000006" / "state.json").read_text())
    assert (state["batch_size"], state["grad_accumulation_steps"]) == (2, 2)
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["batch_size"], config["grad_accumulation_steps"]) == (2, 2)
    assert [r["iteration"] for r in metrics_lines(run)] == [0, 1, 2, 3, 4, 5, 6]   # nothing twice, nothing missing
    assert _free(run)


def test_a_trainer_killed_at_batch_size_1_fails_with_the_reason(workspace, tmp_path):
    proc = _start(workspace, tmp_path, "at-one", hang_at=3, batch_size=1)
    run = workspace / "models" / "cpt" / "at-one"
    _, before = _kill_trainer_when_hanging(proc, run)
    out = _finish(proc, before)
    assert proc.returncode == 1, out[-3000:]
    info = run_json(run)
    assert info["status"] == "failed" and info["oom_recoveries"] == []
    assert "killed by SIGKILL (likely out of memory" in info["error"] and "at batch_size 1" in info["error"]
    assert f"run failed at iteration {info['iteration']}: the training process was killed by SIGKILL" in out
    assert "SIGKILL" in (run / "error.log").read_text()
    assert "resuming" not in out and _free(run)
    runs = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "runs", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert [r["status"] for r in json.loads(runs.stdout) if r["name"] == "at-one"] == ["failed"]


def test_a_trainer_killed_before_its_first_checkpoint_restarts_from_the_start(workspace, tmp_path):
    proc = _start(workspace, tmp_path, "early", hang_at=1, max_iterations=2, save_every=100)
    run = workspace / "models" / "cpt" / "early"
    _, before = _kill_trainer_when_hanging(proc, run)
    out = _finish(proc, before)
    assert proc.returncode == 0, out[-3000:]
    info = run_json(run)
    assert info["status"] == "finished" and info["oom_recoveries"][0]["restarted_from"] == "start"
    assert info["oom_recoveries"][0]["batch_size"] == 2 and info["resumed_from"] == []
    assert [r["iteration"] for r in metrics_lines(run)] == [0, 1, 2]


def test_ctrl_c_to_the_terminal_group_stops_once_and_gracefully(workspace, tmp_path):
    """The terminal sends Ctrl-C to the whole foreground group: the trainer stops after a step, no abort."""
    small_cpt(workspace)
    config = workspace / "configs" / "ctrl-c.yaml"
    config.write_text(yaml.safe_dump({"model": "models/base/forge-tiny", "data": "data/cpt-small",
                                      "max_iterations": 400, "batch_size": 2, "max_seq_length": 64,
                                      "steps_per_report": 1, "steps_per_eval": 1000, "val_batches": 1,
                                      "save_every": 1000, "learning_rate": 1e-3}))
    proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train", str(config),
                             "--name", "ctrl-c"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("it ") and line.split()[1].startswith("2/"):
            break
    os.killpg(proc.pid, signal.SIGINT)
    out = _finish(proc, "".join(seen))
    assert proc.returncode == 0, out[-3000:]
    assert out.count("SIGINT: stopping") == 1 and "aborted" not in out and "Traceback" not in out
    info = run_json(workspace / "models" / "cpt" / "ctrl-c")
    assert info["status"] == "stopped" and info["stop_reason"] == "stopped by SIGINT"
