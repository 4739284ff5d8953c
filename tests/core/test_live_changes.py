"""Live changes to a running run: every live key changed between steps, recorded in run.json, log.jsonl
and the metrics; refused changes; exact resume replays the changes."""

from __future__ import annotations

import json

import pytest

from forgellm_tui.core import events as ev
from forgellm_tui.core.config import ConfigFieldError
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.engine import train
from forgellm_tui.core.training.live import check_changes, live_keys

from train_helpers import Recorder, make_cfg, metrics_lines, run_json

pytestmark = pytest.mark.slow

CHANGES = {"lr_scale": 0.5, "steps_per_report": 1, "steps_per_eval": 2, "save_every": 4,
           "early_stopping_patience": 7, "min_loss_improvement": 0.01, "overfitting_threshold": 2.0,
           "max_iterations": 10}


def _change_at(control: TrainingControl, iteration: int, values: dict):
    """An event hook asking for ``values`` once the run reports ``iteration`` (from the training thread,
    as a request from another thread would arrive: applied at the next turn between steps)."""
    def hook(event):
        if isinstance(event, ev.Metrics) and event.iteration == iteration and not hook.done:
            hook.done = True
            control.change(values)
    hook.done = False
    return hook


def test_every_live_key_changes_a_running_run(workspace):
    control = TrainingControl()
    values = {k: v for k, v in CHANGES.items() if k in live_keys()}
    if "sample_every" in live_keys():
        values["sample_every"] = 3
    rec = Recorder(_change_at(control, 2, values))
    result = train(make_cfg(workspace, name="live-all", max_iterations=6, steps_per_report=2, steps_per_eval=3,
                            save_every=3, lr_schedule="constant", early_stopping=False), rec, control)
    assert result.status == "finished" and result.iteration == 10           # the new length
    info = run_json(result.run_dir)
    changes = {c["key"]: c for c in info["changes"]}
    assert set(changes) == set(values)
    assert all(c["iteration"] == 2 for c in changes.values())
    assert changes["steps_per_eval"]["old"] == 3 and changes["steps_per_eval"]["new"] == 2
    assert changes["lr_scale"]["old"] == 1.0 and changes["lr_scale"]["new"] == 0.5
    records = metrics_lines(result.run_dir)
    lr = {r["iteration"]: r["learning_rate"] for r in records if r["training_loss"] is not None}
    assert lr[2] == pytest.approx(1e-3) and lr[3] == pytest.approx(5e-4)   # the schedule x 0.5 from step 3
    # steps_per_report 1 from iteration 3 on; validations every 2 steps; checkpoints every 4
    assert [r["iteration"] for r in records if r["training_loss"] is not None] == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert [r["iteration"] for r in records if r["validation_loss"] is not None] == [0, 4, 6, 8, 10]
    assert sorted(p.name for p in (result.run_dir / "checkpoints").iterdir()) == ["0000004", "0000008", "0000010"]
    logged = (result.run_dir / "log.jsonl").read_text()
    assert "changed steps_per_eval 3 -> 2 at iteration 2" in logged
    assert [e.key for e in rec.by_type["SettingChanged"]] == list(values)
    state = json.loads((result.run_dir / "checkpoints" / "0000004" / "state.json").read_text())
    assert state["live"]["steps_per_eval"] == 2 and state["changes_applied"] == len(values)


def test_a_bad_change_is_refused_with_one_line_naming_the_key():
    with pytest.raises(ConfigFieldError) as err:
        check_changes({"steps_per_eval": 0})
    assert str(err.value).startswith("steps_per_eval: must be an integer ≥ 1") and "\n" not in str(err.value)
    with pytest.raises(ConfigFieldError, match="batch_size: cannot change while the run trains"):
        check_changes({"batch_size": 4})
    with pytest.raises(ConfigFieldError, match="lr_scale: must be a number > 0"):
        check_changes({"lr_scale": -1})
    with pytest.raises(ConfigFieldError, match="did you mean 'steps_per_eval'"):
        check_changes({"stepz_per_eval": 3})
    assert check_changes({"eval_every": "5", "lr_scale": 2}) == {"steps_per_eval": 5, "lr_scale": 2.0}


def test_a_refused_change_leaves_the_run_as_it_was(workspace):
    control = TrainingControl()
    rec = Recorder(_change_at(control, 2, {"steps_per_eval": 0}))
    result = train(make_cfg(workspace, name="live-bad", max_iterations=4), rec, control)
    assert result.status == "finished"
    assert run_json(result.run_dir)["changes"] == []
    assert "change refused: steps_per_eval: must be an integer" in (result.run_dir / "log.jsonl").read_text()


KILLED_RUN = """
import sys, time
from forgellm_tui.core import events as ev
from forgellm_tui.core.config.model import load_config
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.engine import train
from forgellm_tui.settings import Settings

control = TrainingControl()

def change(event):
    if isinstance(event, ev.Metrics) and event.iteration == 5 and event.training_loss is not None:
        control.change({"lr_scale": 0.25, "steps_per_report": 2, "steps_per_eval": 3, "save_every": 4})

def hang(iteration):
    if iteration == 11:          # checkpoint 8 is on disk, the change of iteration 5 is in it
        print("HANGING", flush=True)
        time.sleep(600)

train(load_config(sys.argv[1], settings=Settings.load(sys.argv[2])), change, control, fault_hook=hang)
"""


def _resume_config(ws, name):
    import yaml

    from train_helpers import small_cpt

    small_cpt(ws)
    raw = {"model": "models/base/forge-tiny", "data": "data/cpt-small", "name": name, "max_iterations": 14,
           "batch_size": 2, "max_seq_length": 128, "learning_rate": 1e-3, "lr_schedule": "cosine",
           "warmup_steps": 2, "lora_parameters": {"rank": 4, "scale": 20.0, "dropout": 0.1},
           "steps_per_report": 1, "steps_per_eval": 5, "val_batches": 2, "save_every": 5, "early_stopping": False,
           "seed": 3}
    path = ws / "configs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _same_run(straight, other) -> None:
    import mlx.core as mx

    a = mx.load(str(straight / "adapters.safetensors"))
    b = mx.load(str(other / "adapters.safetensors"))
    assert a.keys() == b.keys() and all(mx.array_equal(a[k], b[k]).item() for k in a)   # bit-identical
    rec_a, rec_b = metrics_lines(straight), metrics_lines(other)
    assert [r["iteration"] for r in rec_a] == [r["iteration"] for r in rec_b]
    for x, y in zip(rec_a, rec_b):
        for key in ("training_loss", "validation_loss", "learning_rate", "gradient_norm"):
            assert x[key] == y[key], (x["iteration"], key)
    strip = [{k: v for k, v in c.items() if k != "time"} for c in run_json(straight)["changes"]]
    assert [{k: v for k, v in c.items() if k != "time"} for c in run_json(other)["changes"]] == strip


def test_resume_after_a_live_change_equals_the_run_never_killed(workspace, capsys):
    """Changed at iteration 5, killed at 10: resumed from checkpoint 8 (the change is in it) and again from
    checkpoint 5 (the change is replayed at iteration 5), both bit-identical to the run never killed."""
    import os
    import signal
    import subprocess
    import sys

    from forgellm_tui import cli
    from forgellm_tui.core.config.model import load_config
    from forgellm_tui.settings import Settings

    settings = Settings.load(workspace)
    control = TrainingControl()
    changes = {"lr_scale": 0.25, "steps_per_report": 2, "steps_per_eval": 3, "save_every": 4}
    hook = _change_at(control, 5, changes)
    straight = train(load_config(_resume_config(workspace, "straight"), settings=settings), hook, control)
    assert straight.status == "finished" and len(run_json(straight.run_dir)["changes"]) == 4

    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(_resume_config(workspace, "killed")),
                             str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "HANGING" in line, proc.stderr.read()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = workspace / "models" / "cpt" / "killed"
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["0000005", "0000008"]
    assert cli.main(["--workspace", str(workspace), "train", "--resume", str(killed)]) == 0
    _same_run(straight.run_dir, killed)

    assert cli.main(["--workspace", str(workspace), "train", "--resume", str(killed / "checkpoints" / "0000005")]) == 0
    assert "lr_scale 1.0 -> 0.25 at iteration 5 (replayed)" in (killed / "log.jsonl").read_text()
    _same_run(straight.run_dir, killed)
    capsys.readouterr()


def test_headless_train_prints_each_change():
    import io

    from forgellm_tui.commands.train_progress import Printer

    out = io.StringIO()
    Printer(out)(ev.SettingChanged(30, "steps_per_eval", 50, 25))
    assert out.getvalue() == "changed steps_per_eval 50 -> 25 at iteration 30\n"


def test_sample_every_changes_when_the_run_samples(workspace):
    control = TrainingControl()
    rec = Recorder(_change_at(control, 2, {"sample_every": 2}))
    result = train(make_cfg(workspace, name="live-samples", max_iterations=6, steps_per_eval=100,
                            sample_prompts=["The"], sample_every=100, sample_max_tokens=2), rec, control)
    assert result.status == "finished"
    lines = (result.run_dir / "samples.jsonl").read_text().splitlines()
    assert sorted({json.loads(line)["iteration"] for line in lines}) == [0, 4, 6]   # every 2 from iteration 2 on
