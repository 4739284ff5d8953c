"""One writer per run folder: a second run of the same folder is refused with the holder's pid.

The lock is held from the moment a run opens its folder until it ends, in the app's thread runs,
CLI runs and detached runs alike, and is released on every way a run ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.core.config.model import ConfigFieldError
from forgellm_tui.core.errors import ConfigError
from forgellm_tui.core.runs.folder import choose_run_dir
from forgellm_tui.core.runs.lock import LOCK, RunLock, RunLocked
from forgellm_tui.core.training.prepare import create_locked, load_run_config
from forgellm_tui.core.training.engine import train
from forgellm_tui.settings import Settings

from train_helpers import make_cfg, metrics_lines, run_json, small_cpt
from wait_helpers import wait_until

pytestmark = pytest.mark.slow


def _finished_run(ws: Path, name: str) -> Path:
    result = train(make_cfg(ws, name=name, max_iterations=4, save_every=2, steps_per_eval=2))
    assert result.status == "finished"
    return result.run_dir


def _free(run: Path) -> bool:
    try:
        RunLock.acquire(run).release()
    except RunLocked:
        return False
    return True


def _one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_second_resume_of_one_run_is_refused_naming_the_pid(workspace):
    """Two resumes of a stopped run at once (the app, or two terminals): only the first one writes."""
    run = _finished_run(workspace, "twice")
    longer = load_run_config(run, {"max_iterations": 6}, Settings.load(workspace))
    started, release, results = threading.Event(), threading.Event(), {}

    def hold(_event):  # the first resume stops at its first event, its folder open
        started.set()
        release.wait(120)

    first = threading.Thread(target=lambda: results.setdefault("first", train(longer, hold, resume_from=run)))
    first.start()
    try:
        assert started.wait(120)
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            train(longer, resume_from=run)
        out = subprocess.run([sys.executable, "-m", "forgellm_tui", "train", "--resume", str(run),
                              "--set", "max_iterations=6"], capture_output=True, text=True, timeout=120)
        line = _one_line(out.stderr)
        assert out.returncode == 2 and f"pid {os.getpid()}" in line and str(run) in line, line
    finally:
        release.set()
        first.join(180)
    assert results["first"].status == "finished"
    its = [r["iteration"] for r in metrics_lines(run)]
    assert its == sorted(its) and len(its) == len(set(its)) and its[-1] == 6   # one writer, in order
    assert _free(run) and (run / LOCK).read_text() == ""


def test_two_new_runs_with_one_name_cannot_share_a_folder(workspace):
    cfg = make_cfg(workspace, name="same")
    settings = Settings.load(workspace)
    path_a, path_b = choose_run_dir(cfg, settings), choose_run_dir(cfg, settings)  # both see a free name
    a = create_locked(path_a, cfg)
    with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
        create_locked(path_b, cfg)
    a.unlock()
    with pytest.raises(ConfigError, match="already holds a run"):
        create_locked(path_b, cfg)
    assert run_json(path_a)["status"] == "starting"


def test_the_lock_is_released_on_every_exit_path(workspace):
    run = _finished_run(workspace, "paths")
    assert _free(run)

    def boom(iteration):
        if iteration == 5:
            raise RuntimeError("injected failure")

    failed = train(make_cfg(workspace, name="paths", max_iterations=6, save_every=2, steps_per_eval=2),
                   resume_from=run, fault_hook=boom)
    assert failed.status == "failed" and _free(run)
    with pytest.raises(ConfigFieldError, match="lora_rank"):   # refused before training
        train(make_cfg(workspace, name="paths", max_iterations=6, lora_rank=8), resume_from=run)
    assert _free(run)

    def interrupt(iteration):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(workspace, name="paths", max_iterations=6, save_every=2, steps_per_eval=2),
              resume_from=run, fault_hook=interrupt)
    assert _free(run)
    # a lock file left by a killed run (its pid is dead) does not block the resume
    (run / LOCK).write_text("999999999 " + os.uname().nodename + "\n")
    done = train(make_cfg(workspace, name="paths", max_iterations=6, save_every=2, steps_per_eval=2),
                 resume_from=run)
    assert done.status == "finished" and _free(run)


def test_a_detached_run_holds_its_folder(workspace, capsys):
    small_cpt(workspace)
    config = workspace / "configs" / "bg.yaml"
    config.write_text(yaml.safe_dump({"model": "models/base/forge-tiny", "data": "data/cpt-small",
                                      "max_iterations": 400, "batch_size": 2, "max_seq_length": 128,
                                      "steps_per_eval": 200, "val_batches": 1, "save_every": 200}))
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train", str(config),
                          "--name", "bg", "--detach"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run, pid = Path(out.stdout.strip()), int(out.stderr.split("pid ")[1].split(")")[0])
    try:
        wait_until(lambda: run_json(run).get("status") == "running", 120, 0.2,
                   describe=lambda: (run / "train.log").read_text()[-2000:])
        assert run_json(run)["status"] == "running", (run / "train.log").read_text()[-2000:]
        trainer = run_json(run)["pid"]   # the printed pid supervises the training process
        assert (run / LOCK).read_text().split()[0] == str(trainer) != str(pid)
        with pytest.raises(RunLocked, match=f"pid {trainer}"):
            train(load_run_config(run, None, Settings.load(workspace)), resume_from=run)
        rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(run), "--detach"])
        assert rc == 2 and f"pid {trainer}" in _one_line(capsys.readouterr().err)
    finally:
        os.kill(pid, signal.SIGTERM)     # passed on to the trainer, which stops with a checkpoint
    wait_until(lambda: run_json(run).get("status") in ("stopped", "finished", "failed"), 120, 0.2,
               describe=lambda: run_json(run))
    assert run_json(run)["status"] == "stopped"
