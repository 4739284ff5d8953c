"""Numbers a user can trust: no loss over zero tokens, exact metrics after a resume, honest status,
and ``--set`` on resume applied (and recorded) or refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.runs.reader import read_run
from forgellm_tui.core.training.engine import train

from train_helpers import make_cfg, metrics_lines, run_dirs, run_json, small_cpt
from wait_helpers import wait_until

pytestmark = pytest.mark.slow

#: what may differ between two runs of the same steps (wall clock and machine load)
TIMING = ("timestamp", "tokens_per_second", "memory_usage_gb", "eta_seconds")
SHORT = {"messages": [{"role": "user", "content": "What does os.getcwd do?"},
                      {"role": "assistant", "content": "Return a string representing the current working directory."}]}
LONG = {"messages": [{"role": "user", "content": "Explain this: " + "the module reads the file and " * 40},
                     {"role": "assistant", "content": "It reads the file."}]}


def _ift_data(ws: Path, name: str, train_rows: list[dict], valid_rows: list[dict]) -> str:
    out = ws / "data" / name
    out.mkdir(parents=True)
    for split, rows in (("train", train_rows), ("valid", valid_rows)):
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"data/{name}"


def _without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


# ------------------------------------------------------------------ 5. no loss over zero target tokens

def test_ift_data_whose_answers_are_all_cut_off_is_refused_before_any_work(workspace, capsys):
    config = workspace / "configs" / "ift-demo.yaml"
    rc = cli.main(["--workspace", str(workspace), "train", str(config), "--name", "cut", "--set", "max_seq_length=8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "data/ift-demo/train.jsonl" in err[0] and "no answer token fits in max_seq_length=8" in err[0]
    assert "raise max_seq_length above" in err[0]
    assert run_dirs(workspace) == []           # nothing left behind


def test_a_detached_run_whose_answers_are_all_cut_off_is_recorded_as_failed(workspace):
    config = workspace / "configs" / "ift-demo.yaml"
    overrides = ["--set", "max_seq_length=8", "--set", "max_iterations=2", "--set", "warmup_steps=0"]
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train", str(config),
                          "--name", "cut-bg", *overrides, "--detach"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run = Path(out.stdout.strip())
    wait_until(lambda: read_run(run).status not in ("queued", "starting"), 120, 0.2,
               describe=lambda: (run / "train.log").read_text()[-2000:])
    info = run_json(run)
    assert read_run(run).status == "failed", (run / "train.log").read_text()[-2000:]
    assert "no answer token fits in max_seq_length=8" in info["error"] and not (run / "metrics.jsonl").exists()


def test_steps_and_validations_without_target_tokens_record_null_and_never_become_best(workspace):
    # batch_size 1: every step is one conversation; the long prompts leave no answer token in 48
    train_rows = [SHORT, LONG, SHORT, LONG, SHORT, LONG]
    order = np.random.RandomState(12345).permutation(3)    # the row validation uses first (val_batches: 1)
    valid_rows = [SHORT, SHORT, SHORT]
    valid_rows[int(order[0])] = LONG
    data = _ift_data(workspace, "ift-cut", train_rows, valid_rows)
    cfg = make_cfg(workspace, name="cut", training_type="ift", data=data, max_seq_length=48, batch_size=1,
                   max_iterations=6, steps_per_report=1, steps_per_eval=3, save_every=3, val_batches=1)
    result = train(cfg)
    run = result.run_dir
    assert result.status == "finished"
    records = metrics_lines(run)
    losses = [r["training_loss"] for r in records if r["iteration"] > 0]
    assert sum(loss is None for loss in losses) == 3 and all(loss > 0.5 for loss in losses if loss is not None)
    assert all(r["validation_loss"] is None for r in records)      # never 0.000
    info = run_json(run)
    assert info["best_iteration"] is None and not (run / "best").exists()
    assert read_run(run).best_validation_loss is None


def test_prepare_ift_warns_about_conversations_longer_than_the_target(workspace, capsys):
    source = workspace / "chats.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in [SHORT, LONG, SHORT, LONG, SHORT]))
    rc = cli.main(["--workspace", str(workspace), "prepare", "--kind", "ift", "--input", str(source),
                   "--name", "chats", "--target-tokens", "64"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "warning: 2 of 5 conversations are longer than the target length of 64 tokens" in out
    assert "set max_seq_length above" in out


# ------------------------------------------------------------------ 7. metrics after a resume

def test_resume_between_two_reports_writes_the_same_metrics_as_an_uninterrupted_run(workspace):
    # reports every 3 steps, a checkpoint every 4: the resume point (4) lies inside a report window
    over = dict(max_iterations=9, steps_per_report=3, steps_per_eval=4, save_every=4, lora_dropout=0.1)
    straight = train(make_cfg(workspace, name="straight", **over))

    def crash(iteration):
        if iteration == 7:
            raise RuntimeError("injected crash")

    cfg = make_cfg(workspace, name="crashed", **over)
    crashed = train(cfg, fault_hook=crash)
    assert crashed.status == "failed" and crashed.iteration == 6
    resumed = train(cfg, resume_from=crashed.run_dir)
    assert resumed.status == "finished" and run_json(crashed.run_dir)["resumed_from"][0]["iteration"] == 4
    a, b = metrics_lines(straight.run_dir), metrics_lines(crashed.run_dir)
    assert [r["iteration"] for r in a] == [0, 3, 4, 6, 8, 9]
    assert _without_timing(b) == _without_timing(a)


# ------------------------------------------------------------------ 8. status

def test_a_detached_run_is_starting_never_interrupted(workspace):
    config = workspace / "configs" / "bg.yaml"
    config.write_text(yaml.safe_dump({"model": "models/base/forge-tiny", "data": small_cpt(workspace),
                                      "max_iterations": 2, "batch_size": 2, "max_seq_length": 128, "save_every": 2,
                                      "steps_per_eval": 2, "val_batches": 1, "learning_rate": 1e-3}))
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train", str(config),
                          "--name", "bg", "--detach"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run = Path(out.stdout.strip())
    seen = [read_run(run).status]

    def ended() -> bool:  # every status read is kept: the test is about the ones in between
        if seen[-1] not in ("finished", "failed", "interrupted"):
            seen.append(read_run(run).status)
        return seen[-1] in ("finished", "failed", "interrupted")

    wait_until(ended, 180, 0.05, describe=lambda: (seen[-5:], (run / "train.log").read_text()[-2000:]))
    assert seen[0] == "starting", seen
    assert "interrupted" not in seen and seen[-1] == "finished", (seen[-5:], (run / "train.log").read_text()[-2000:])


def test_a_failed_resume_keeps_the_iteration_the_run_reached(workspace, monkeypatch):
    from forgellm_tui.core.training import loop as training_loop

    result = train(make_cfg(workspace, name="reached"))
    assert result.status == "finished" and run_json(result.run_dir)["iteration"] == 6

    def broken(*_args, **_kwargs):  # fault injection: loading the model for the resume fails
        raise RuntimeError("injected: the model could not be loaded")

    monkeypatch.setattr(training_loop.Session, "__init__", broken)
    again = train(make_cfg(workspace, name="reached"), resume_from=result.run_dir)
    info = run_json(result.run_dir)
    assert again.status == "failed" and info["status"] == "failed"
    assert info["iteration"] == 6 and read_run(result.run_dir).iteration == 6


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_zero(workspace, capsys):
    control = TrainingControl()
    control.stop("stopped during start-up")
    stopped = train(make_cfg(workspace, name="early"), control=control)
    run = stopped.run_dir
    assert stopped.status == "stopped" and not (run / "checkpoints").exists()
    rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(run)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "iterations 0->6" in out.out
    info = run_json(run)
    assert info["status"] == "finished" and info["iteration"] == 6
    assert info["resumed_from"][-1]["iteration"] == 0 and info["resumed_from"][-1]["checkpoint"] is None
    assert [r["iteration"] for r in metrics_lines(run)] == [0, 2, 3, 4, 6]   # one record each, no leftovers


# ------------------------------------------------------------------ 9. --set on resume

def test_set_on_resume_is_applied_and_recorded_or_refused(workspace, capsys):
    def crash(iteration):
        if iteration == 4:
            raise RuntimeError("injected crash")

    crashed = train(make_cfg(workspace, name="changed"), fault_hook=crash)
    run = crashed.run_dir
    assert crashed.status == "failed" and (run / "checkpoints" / "0000003").is_dir()
    base = ["--workspace", str(workspace), "train", "--resume", str(run)]
    for extra, key in ((["--set", "data=data/cpt-demo"], "data"), (["--set", "optimizer=sgd"], "optimizer"),
                       (["--set", "training_type=ift"], "training_type"),
                       (["--set", "data=data/cpt-demo", "--detach"], "data")):
        rc = cli.main(base + extra)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1, (extra, err)
        assert f"{key}: cannot change on resume" in err[0] and "Traceback" not in err[0], err
    assert yaml.safe_load((run / "config.yaml").read_text())["data"] == "data/cpt-small"   # untouched

    rc = cli.main(base + ["--set", "batch_size=4", "--set", "seed=5"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["batch_size"] == 4 and saved["seed"] == 5
    info = run_json(run)
    assert info["config_changes"] == [{"iteration": 3, "changes": {"batch_size": {"from": 2, "to": 4},
                                                                   "seed": {"from": 0, "to": 5}}}]
    state = json.loads((run / "checkpoints" / "0000006" / "state.json").read_text())
    assert state["batch_size"] == 4 and state["rng"]["seed"] == 5 and state["data"]["batch_size"] == 4
    log = [json.loads(line)["message"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert "from iteration 3: batch_size 2 -> 4, seed 0 -> 5" in log
