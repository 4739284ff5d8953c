"""Exact resume after kill -9, refusal of shape changes, and signals to a headless run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.core.config.model import ConfigFieldError, load_config
from forgellm_tui.core.training.engine import train
from forgellm_tui.settings import Settings

from train_helpers import make_cfg, metrics_lines, run_json, small_cpt

pytestmark = pytest.mark.slow

HANGING_RUN = """
import sys, time
from forgellm_tui.core.config.model import load_config
from forgellm_tui.core.training.engine import train
from forgellm_tui.settings import Settings

def hang(iteration):
    if iteration == 6:          # checkpoint 4 and the record of iteration 5 are on disk
        print("HANGING", flush=True)
        time.sleep(600)

train(load_config(sys.argv[1], settings=Settings.load(sys.argv[2])), fault_hook=hang)
"""

COMPARED = ("training_loss", "validation_loss", "learning_rate", "gradient_norm", "trained_tokens", "epoch")


def _config(ws: Path, name: str) -> Path:
    small_cpt(ws)
    raw = {"model": "models/base/forge-tiny", "data": "data/cpt-small", "name": name, "max_iterations": 8,
           "batch_size": 2, "grad_accumulation_steps": 2, "max_seq_length": 128, "learning_rate": 1e-3,
           "lr_schedule": "cosine", "warmup_steps": 2, "lora_parameters": {"rank": 4, "scale": 20.0, "dropout": 0.1},
           "steps_per_report": 1, "steps_per_eval": 2, "val_batches": 2, "save_every": 4, "early_stopping": False,
           "seed": 7}
    path = ws / "configs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def kill_9_at_iteration_6(config: Path, workspace: Path) -> None:
    """Train ``config`` in a child process and kill -9 it before iteration 6 (checkpoint 4 is on disk)."""
    proc = subprocess.Popen([sys.executable, "-c", HANGING_RUN, str(config), str(workspace)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "HANGING" in line, proc.stderr.read()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_resume_after_kill_9_equals_an_uninterrupted_run(workspace, capsys):
    import mlx.core as mx

    settings = Settings.load(workspace)
    straight = train(load_config(_config(workspace, "straight"), settings=settings))
    assert straight.status == "finished"

    kill_9_at_iteration_6(_config(workspace, "killed"), workspace)
    killed = workspace / "models" / "cpt" / "killed"
    assert run_json(killed)["status"] == "running"                   # died without a chance to say so
    assert [r["iteration"] for r in metrics_lines(killed)][-1] == 5  # written after checkpoint 4

    rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(killed)])
    out = capsys.readouterr().out
    assert rc == 0 and "resuming killed" in out and "iterations 4->8" in out
    info = run_json(killed)
    assert info["status"] == "finished" and info["resumed_from"][0]["iteration"] == 4

    a = mx.load(str(straight.run_dir / "adapters.safetensors"))
    b = mx.load(str(killed / "adapters.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert mx.allclose(a[key], b[key], rtol=0, atol=1e-7).item(), key
    rec_a = [r for r in metrics_lines(straight.run_dir)]
    rec_b = [r for r in metrics_lines(killed)]
    assert [r["iteration"] for r in rec_b] == [r["iteration"] for r in rec_a]   # no duplicates, nothing missing
    after = [(x, y) for x, y in zip(rec_a, rec_b) if x["iteration"] > 4]
    assert len(after) == 4
    for x, y in after:
        for key in COMPARED:
            assert x[key] == pytest.approx(y[key], rel=1e-6, abs=1e-9), (x["iteration"], key)

    # a resume that would change the model's shape is refused before any work
    for override, key in ((["--set", "lora_parameters.rank=8"], "lora_rank"), (["--set", "num_layers=2"], "num_layers"),
                          (["--set", "fine_tune_type=dora"], "fine_tune_type")):
        rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(killed), *override])
        err = capsys.readouterr().err
        assert rc == 2 and key in err and "cannot change the model's shape" in err and "Traceback" not in err
    with pytest.raises(ConfigFieldError):
        train(make_cfg(workspace, lora_rank=16, name="x"), resume_from=killed)


def test_dpo_resume_after_kill_9_equals_an_uninterrupted_run(workspace, capsys):
    """kill -9 of a DPO run after its checkpoint at 4: the resume loads the stored reference (it is not
    computed again) and ends with the uninterrupted run's weights and reward metrics."""
    import mlx.core as mx

    from train_helpers import small_pref

    def config(name: str) -> Path:
        path = _config(workspace, name)
        raw = yaml.safe_load(path.read_text())
        raw.update(training_type="dpo", data=small_pref(workspace, train=16, valid=8), max_seq_length=64)
        path.write_text(yaml.safe_dump(raw))
        return path

    straight = train(load_config(config("dpo-straight"), settings=Settings.load(workspace)))
    assert straight.status == "finished"
    kill_9_at_iteration_6(config("dpo-killed"), workspace)
    killed = workspace / "models" / "dpo" / "dpo-killed"
    reference = (killed / "reference" / "train.npy").stat().st_mtime_ns
    assert run_json(killed)["status"] == "running"
    rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(killed)])
    assert rc == 0 and "iterations 4->8" in capsys.readouterr().out
    assert run_json(killed)["status"] == "finished"
    assert (killed / "reference" / "train.npy").stat().st_mtime_ns == reference   # loaded, not computed again
    a = mx.load(str(straight.run_dir / "adapters.safetensors"))
    b = mx.load(str(killed / "adapters.safetensors"))
    assert a.keys() == b.keys() and all(mx.allclose(a[k], b[k], rtol=0, atol=1e-7).item() for k in a)
    rec_a, rec_b = metrics_lines(straight.run_dir), metrics_lines(killed)
    assert [r["iteration"] for r in rec_b] == [r["iteration"] for r in rec_a]
    for x, y in zip(rec_a, rec_b):
        for key in ("training_loss", "validation_loss", "reward_accuracy", "reward_margin", "val_reward_margin"):
            if x.get(key) is not None:
                assert y[key] == pytest.approx(x[key], rel=1e-6, abs=1e-9), (x["iteration"], key)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_to_a_headless_run_saves_and_stops(workspace, signame):
    config = _config(workspace, f"sig-{signame.lower()}")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train", str(config),
                             "--set", "max_iterations=400", "--set", "save_every=1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    run = workspace / "models" / "cpt" / f"sig-{signame.lower()}"
    try:
        for line in proc.stdout:
            if line.startswith("it ") and line.split()[1].startswith("3/"):
                break
        proc.send_signal(getattr(signal, signame))
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-2000:]
    assert f"{signame}: stopping" in out and "Traceback" not in out
    info = run_json(run)
    assert info["status"] == "stopped" and info["stop_reason"] == f"stopped by {signame}"
    it = info["iteration"]
    assert 3 <= it < 400
    assert (run / "checkpoints" / f"{it:07d}" / "state.json").is_file()
    assert json.loads((run / "checkpoints" / f"{it:07d}" / "state.json").read_text())["iteration"] == it
