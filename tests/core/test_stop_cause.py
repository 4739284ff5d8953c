"""run.json records why a run ended as a word (``stop_cause``), next to the text for people; runs written
before the field existed are read with the cause their text shows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from forgellm_tui.core.runs.reader import read_run
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.engine import train
from train_helpers import make_cfg, run_json, small_cpt


def _stop_at(control: TrainingControl, iteration: int, *args):
    def hook(it: int) -> None:  # what a stop key pressed during this step does
        if it == iteration:
            control.stop(*args)
    return hook


def test_finished_and_user_stop_are_recorded(workspace):
    finished = train(make_cfg(workspace, name="done", max_iterations=2, save_every=2))
    assert run_json(finished.run_dir)["stop_cause"] == "finished"
    control = TrainingControl()
    stopped = train(make_cfg(workspace, name="user", max_iterations=40), control=control,
                    fault_hook=_stop_at(control, 2))
    info = run_json(stopped.run_dir)
    assert info["status"] == "stopped" and info["stop_reason"] == "stopped by user" and info["stop_cause"] == "user"
    assert read_run(stopped.run_dir).stop_cause == "user"


def test_the_cause_given_with_a_stop_is_recorded_whatever_the_text(workspace):
    control = TrainingControl()
    run = train(make_cfg(workspace, name="quit", max_iterations=40), control=control,
                fault_hook=_stop_at(control, 2, "leaving now", "quit")).run_dir
    info = run_json(run)
    assert info["stop_reason"] == "leaving now" and info["stop_cause"] == "quit"


def test_early_stop_is_recorded(workspace):
    cfg = make_cfg(workspace, name="early", learning_rate=1e-9, max_iterations=40, steps_per_eval=2, save_every=50,
                   early_stopping_patience=2, min_loss_improvement=0.01)
    info = run_json(train(cfg).run_dir)
    assert info["status"] == "stopped" and info["stop_cause"] == "early_stop"


def test_failures_record_error_or_out_of_memory(workspace):
    def broken(it: int) -> None:
        if it == 2:
            raise RuntimeError("injected: a broken step")

    failed = train(make_cfg(workspace, name="broken", max_iterations=6), fault_hook=broken)
    assert run_json(failed.run_dir)["status"] == "failed" and run_json(failed.run_dir)["stop_cause"] == "error"

    def no_memory(it: int) -> None:
        if it == 2:
            raise MemoryError("injected: out of memory")

    oom = train(make_cfg(workspace, name="oom", max_iterations=6, batch_size=1), fault_hook=no_memory)
    info = run_json(oom.run_dir)
    assert info["status"] == "failed" and "batch_size 1" in info["error"] and info["stop_cause"] == "oom"


def test_a_second_ctrl_c_records_a_signal(workspace):
    control = TrainingControl()

    def abort(it: int) -> None:
        if it == 2:
            raise KeyboardInterrupt  # what the CLI's handler raises on the second Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(workspace, name="abort", max_iterations=40), control=control, fault_hook=abort)
    info = run_json(workspace / "models" / "cpt" / "abort")
    assert info["status"] == "stopped" and "Ctrl-C" in info["stop_reason"] and info["stop_cause"] == "signal"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sighup_to_a_headless_run_records_a_hangup(workspace):
    config = workspace / "configs" / "hup.yaml"
    config.write_text(yaml.safe_dump({"model": "models/base/forge-tiny", "data": small_cpt(workspace), "name": "hup",
                                      "max_iterations": 400, "batch_size": 2, "max_seq_length": 128,
                                      "steps_per_report": 1, "steps_per_eval": 100, "val_batches": 1,
                                      "save_every": 1000}))
    proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train",
                             str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        for line in proc.stdout:
            if line.startswith("it ") and line.split()[1].startswith("2/"):
                break
        proc.send_signal(signal.SIGHUP)
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    info = run_json(workspace / "models" / "cpt" / "hup")
    assert proc.returncode == 0, out[-2000:]
    assert info["stop_reason"] == "stopped by SIGHUP" and info["stop_cause"] == "hangup"


OLD_RECORDS = [  # (status, stop_reason, error) as runs wrote them before stop_cause -> the cause read
    ("finished", "reached max_iterations", None, "finished"),
    ("stopped", "stopped by user", None, "user"),
    ("stopped", "stopped by user (quit the app)", None, "quit"),
    ("stopped", "the app closed (resume continues from its checkpoint)", None, "interrupted"),
    ("stopped", "terminal closed (SIGHUP)", None, "hangup"),
    ("stopped", "stopped by SIGHUP", None, "hangup"),
    ("stopped", "stopped by SIGHUP: the training process was killed by SIGKILL (likely out of memory: the "
                "kernel's out-of-memory killer or a memory limit) (resume continues from the last checkpoint)",
     None, "hangup"),
    ("stopped", "stopped by SIGTERM", None, "signal"),
    ("stopped", "aborted with Ctrl-C (resume continues from the last checkpoint)", None, "signal"),
    ("stopped", "early stop: no validation improvement in 2 evaluations", None, "early_stop"),
    ("failed", None, "MemoryError: out of memory at batch_size 1 after 2 halvings; lower max_seq_length", "oom"),
    ("failed", None, "the training process crashed with SIGSEGV (likely a failed memory allocation) at "
                     "batch_size 1; lower max_seq_length or use a smaller model", "oom"),
    ("failed", None, "RuntimeError: injected", "error"),
    ("queued", None, None, None),  # not ended: no cause
]


@pytest.mark.parametrize("status, reason, error, cause", OLD_RECORDS)
def test_a_run_json_written_before_stop_cause_reads_with_the_cause_of_its_text(tmp_path, status, reason, error,
                                                                               cause):
    run = tmp_path / "models" / "cpt" / "old"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({
        "name": "old", "status": status, "training_type": "cpt", "iteration": 4, "pid": None,
        "stop_reason": reason, "error": error}))
    info = read_run(run, with_metrics=False)
    assert info.status == status and info.stop_cause == cause and info.stop_reason == reason


def test_the_recorded_cause_wins_over_the_text_and_a_dead_process_reads_interrupted(tmp_path):
    run = tmp_path / "models" / "cpt" / "new"
    run.mkdir(parents=True)
    record = {"name": "new", "status": "stopped", "training_type": "cpt", "stop_reason": "terminal closed (SIGHUP)",
              "stop_cause": "user"}
    (run / "run.json").write_text(json.dumps(record))
    assert read_run(run, with_metrics=False).stop_cause == "user"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record.update(status="running", pid=int(dead.stdout), stop_reason=None, stop_cause=None)
    (run / "run.json").write_text(json.dumps(record))
    info = read_run(run, with_metrics=False)
    assert info.status == "interrupted" and info.stop_cause == "interrupted"
