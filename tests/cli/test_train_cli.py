"""``forgellm-tui train`` and ``runs``: bad input is refused before any work with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forgellm_tui import cli

from train_helpers import run_dirs, run_json, small_cpt
from wait_helpers import wait_until

GOOD = {"model": "models/base/forge-tiny", "data": "data/cpt-small", "max_iterations": 2, "batch_size": 2,
        "max_seq_length": 128, "steps_per_eval": 2, "val_batches": 1, "save_every": 2, "learning_rate": 1e-3}


def _write(ws: Path, raw: dict | str, name: str = "c.yaml") -> Path:
    path = ws / "configs" / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    return path


def _bad_cases(ws: Path):
    (ws / "data" / "no-train").mkdir()
    (ws / "data" / "empty").mkdir()
    (ws / "data" / "empty" / "train.jsonl").write_text("")
    (ws / "a-file.txt").write_text("x")
    yield "missing model", {**GOOD, "model": "models/base/nope"}, ["model", "not found"]
    yield "not a model", {**GOOD, "model": "data/cpt-small"}, ["model", "not a usable model"]
    yield "no train.jsonl", {**GOOD, "data": "data/no-train"}, ["no-train", "no train.jsonl", "prepare"]
    yield "missing data", {**GOOD, "data": "data/nothing-here"}, ["nothing-here", "data folder not found"]
    yield "empty data", {**GOOD, "data": "data/empty"}, ["train.jsonl", "no examples"]
    yield "batch too big", {**GOOD, "batch_size": 500}, ["batch_size", "500", "96 training examples"]
    yield "zero lr", {**GOOD, "learning_rate": 0}, ["learning_rate", "> 0", "got 0"]
    yield "negative lr", {**GOOD, "learning_rate": -0.001}, ["learning_rate", "> 0"]
    yield "zero seq", {**GOOD, "max_seq_length": 0}, ["max_seq_length", "got 0"]
    yield "bad schedule", {**GOOD, "lr_schedule": "warp"}, ["lr_schedule", "unknown value 'warp'"]
    yield "typo", {**GOOD, "learnig_rate": 1e-3}, ["learnig_rate", "did you mean 'learning_rate'"]
    yield "yaml syntax", "model: m\ndata: [oops\n", ["c.yaml", "YAML syntax error at line"]
    yield "unwritable output", {**GOOD, "output_dir": "a-file.txt/runs"}, ["output_dir", "a-file.txt"]
    yield "too many layers", {**GOOD, "num_layers": 12}, ["num_layers", "has 4 layers"]


def test_bad_input_is_refused_before_any_work(workspace, capsys):
    small_cpt(workspace)
    for label, raw, words in _bad_cases(workspace):
        path = _write(workspace, raw)
        rc = cli.main(["--workspace", str(workspace), "train", str(path)])
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert rc == 2, label
        assert len(lines) == 1 and lines[0].startswith("error: "), (label, captured.err)
        for word in words:
            assert word in lines[0], (label, word, lines[0])
        assert "Traceback" not in captured.err + captured.out, label
        assert run_dirs(workspace) == [], label         # nothing written


def test_cli_argument_errors(workspace, capsys):
    assert cli.main(["--workspace", str(workspace), "train"]) == 2
    assert "no config given" in capsys.readouterr().err
    path = _write(workspace, {**GOOD})
    assert cli.main(["--workspace", str(workspace), "train", str(path), "--set", "batch_size"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli.main(["--workspace", str(workspace), "train", "--resume", str(workspace / "data")]) == 2
    assert "not a run folder (no run.json)" in capsys.readouterr().err
    assert cli.main(["--workspace", str(workspace), "train", str(workspace / "configs/nope.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


@pytest.mark.slow
def test_train_prints_progress_and_runs_lists_it(workspace, capsys):
    small_cpt(workspace)
    path = _write(workspace, {**GOOD, "steps_per_report": 1})
    rc = cli.main(["--workspace", str(workspace), "train", str(path), "--name", "cli-run", "--set", "max_iterations=3",
                   "--set", "save_every=3", "--set", "steps_per_eval=3"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = [line for line in out.splitlines() if line.startswith("it ")]
    assert len(lines) == 4 and lines[-1].startswith("it      3/3")
    assert "tok/s" in lines[-1] and "ETA" in lines[-1] and "val " in lines[-1]
    assert "finished (reached max_iterations) at iteration 3/3" in out
    assert cli.main(["--workspace", str(workspace), "runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["NAME", "TYPE", "STATUS"] and table[1].split()[:4] == ["cli-run", "cpt", "finished", "3/3"]
    assert cli.main(["--workspace", str(workspace), "runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["name"] == "cli-run" and runs[0]["best_validation_loss"] > 0 and runs[0]["checkpoints"] == [3]
    # the same name again is refused (never overwrites a run)
    assert cli.main(["--workspace", str(workspace), "train", str(path), "--name", "cli-run"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.slow
def test_detach_starts_a_background_run(workspace):
    small_cpt(workspace)
    path = _write(workspace, {**GOOD, "max_iterations": 3, "save_every": 3})
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(workspace), "train", str(path),
                          "--name", "bg", "--detach"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run = Path(out.stdout.strip())
    assert run == workspace / "models" / "cpt" / "bg" and "pid" in out.stderr
    pid = int(out.stderr.split("pid ")[1].split(")")[0])
    wait_until(lambda: not _alive(pid), 120, 0.3, describe=lambda: (run / "train.log").read_text()[-2000:])
    info = run_json(run)
    assert info["status"] == "finished", (run / "train.log").read_text()[-2000:]
    # the printed pid supervises; run.json names the training process, its child
    assert info["pid"] not in (pid, os.getpid()) and not _alive(info["pid"])
    assert "finished (reached max_iterations)" in (run / "train.log").read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
