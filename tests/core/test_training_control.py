"""Control of a run from another thread: stop, pause/resume, save now, extend/shorten."""

from __future__ import annotations

import threading
import time

import pytest

from forgellm_tui.core import events as ev
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.engine import train

from train_helpers import Recorder, make_cfg, metrics_lines, run_json
from wait_helpers import wait_until

pytestmark = pytest.mark.slow


def _in_thread(fn):
    """Act from another thread, like the TUI does (never from the training thread itself)."""
    t = threading.Thread(target=fn)
    t.start()
    return t


def test_stop_a_run_training_in_a_worker_thread(workspace):
    """The TUI's way: train() in a thread, control from the main thread."""
    from forgellm_tui.core.runtime import backend as runtime

    control = TrainingControl()
    reported = threading.Event()
    rec = Recorder(lambda e: reported.set() if isinstance(e, ev.Metrics) and e.iteration >= 2 else None)
    results, current = [], [0]

    def note_step(iteration):       # called before each step
        current[0] = iteration

    worker = _in_thread(lambda: results.append(train(make_cfg(workspace, name="stopme", max_iterations=200,
                                                                save_every=500), rec, control, fault_hook=note_step)))
    assert reported.wait(120)
    control.stop("user pressed s")
    at_stop = current[0]
    worker.join(120)
    runtime.shutdown_mlx()        # MLX ran in a thread: synchronise, or the process may crash at exit
    result = results[0]
    assert result.status == "stopped" and result.reason == "user pressed s"
    assert 2 <= result.iteration <= at_stop + 1             # the step in progress finishes, no more
    info = run_json(result.run_dir)
    assert info["status"] == "stopped" and info["stop_reason"] == "user pressed s"
    ckpt = result.run_dir / "checkpoints" / f"{result.iteration:07d}"
    assert (ckpt / "state.json").is_file() and (ckpt / "optimizer.safetensors").is_file()
    assert rec.by_type["CheckpointSaved"][-1].reason == "stop"
    assert rec.states()[-1] == "stopped"


def test_pause_and_resume(workspace):
    control = TrainingControl()
    paused_at = []

    def hook(event):
        if isinstance(event, ev.Metrics) and event.iteration == 2 and not paused_at:
            control.pause()
            paused_at.append(time.monotonic())

            def later():
                time.sleep(0.6)
                control.resume()

            _in_thread(later)

    rec = Recorder(hook)
    result = train(make_cfg(workspace, name="pauseme", max_iterations=4, steps_per_eval=10), rec, control)
    assert result.status == "finished" and result.iteration == 4
    states = rec.states()
    assert states == ["starting", "running", "paused", "running", "finished"]
    paused = [e for e in rec.by_type["StateChanged"] if e.state == "paused"][0]
    resumed = [e for e in rec.by_type["StateChanged"] if e.state == "running"][-1]
    assert paused.iteration == 2 and resumed.time - paused.time >= 0.5


def test_stop_while_paused(workspace):
    control = TrainingControl()

    def waiting() -> bool:  # logged as the loop starts waiting for a resume
        return any(e.message.startswith("paused at iteration") for e in rec.by_type["LogLine"])

    def hook(event):
        if isinstance(event, ev.StateChanged) and event.state == "paused":
            _in_thread(lambda: (wait_until(waiting, 60), control.stop()))
        if isinstance(event, ev.Metrics) and event.iteration == 2:
            control.pause()

    rec = Recorder(hook)
    result = train(make_cfg(workspace, name="pausestop", max_iterations=30), rec, control)
    assert result.status == "stopped" and result.iteration == 2


def test_save_now_and_change_length(workspace):
    control = TrainingControl()

    def hook(event):
        if isinstance(event, ev.Metrics) and event.iteration == 2:
            control.save_now()
            control.set_max_iterations(5)      # shorten 40 -> 5
        if isinstance(event, ev.Metrics) and event.iteration == 4:
            control.extend(2)                  # 5 -> 7

    rec = Recorder(hook)
    result = train(make_cfg(workspace, name="saveext", max_iterations=40, save_every=100, steps_per_eval=100), rec, control)
    assert result.status == "finished" and result.iteration == 7 and result.max_iterations == 7
    reasons = [(e.iteration, e.reason) for e in rec.by_type["CheckpointSaved"]]
    assert (2, "manual") in reasons and (7, "final") in reasons
    assert [e.max_iterations for e in rec.by_type["MaxIterationsChanged"]] == [5, 7]
    assert run_json(result.run_dir)["max_iterations"] == 7
    assert "max_iterations: 7" in (result.run_dir / "config.yaml").read_text()   # a resume keeps the new length
    assert metrics_lines(result.run_dir)[-1]["iteration"] == 7


def test_control_requests_are_thread_safe():
    control = TrainingControl()
    threads = [threading.Thread(target=control.extend, args=(1,)) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert control.take_max_iterations(10) == 60 and control.take_max_iterations(60) == 60
    control.pause()
    assert control.paused and not control.wait_while_paused(0.01)
    control.stop("bye")
    assert control.stop_requested and not control.paused and control.stop_reason == "bye"
    with pytest.raises(ValueError):
        control.set_max_iterations(0)
