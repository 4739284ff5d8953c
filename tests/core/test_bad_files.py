"""Damaged or impossible files and values: one line naming the file or key and the fix, exit 2, no run folder.

Each case is something a user can have on disk (a 400-digit number, a stray 0xFF byte, a truncated
download, an edited config.json …). Every one must be refused before a run folder exists, not
surface as "run failed at iteration 0" in a folder that takes the run's name.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from forgellm_tui import cli

from train_helpers import run_dirs, small_cpt, small_ift

GOOD = {"model": "models/base/forge-tiny", "data": "data/cpt-small", "max_iterations": 2, "batch_size": 2,
        "max_seq_length": 128, "steps_per_eval": 2, "val_batches": 1, "save_every": 2, "learning_rate": 1e-3,
        "lr_schedule": "constant"}
HUGE = int("9" * 400)


def _model_copy(ws: Path, name: str, change) -> str:
    """``models/base/<name>``: a copy of the demo model with one thing broken by ``change(folder)``."""
    folder = ws / "models" / "base" / name
    shutil.copytree(ws / "models" / "base" / "forge-tiny", folder)
    change(folder)
    return f"models/base/{name}"


def _edit_json(path: Path, **values) -> None:
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data))


def _ift_with(ws: Path, name: str, bad_line: dict) -> str:
    folder = ws / "data" / name
    folder.mkdir()
    lines = (ws / "data" / "ift-small" / "train.jsonl").read_text().splitlines()[:8]
    (folder / "train.jsonl").write_text("\n".join(lines + [json.dumps(bad_line)]) + "\n")
    return f"data/{name}"


def _chat(first: dict) -> dict:
    return {"messages": [first, {"role": "assistant", "content": "fine"}]}


def _cases(ws: Path):
    """(label, config, words the one error line must hold)."""
    small_cpt(ws)
    small_ift(ws)
    bad_utf8 = ws / "data" / "bad-utf8"
    bad_utf8.mkdir()
    rows = (ws / "data" / "cpt-small" / "train.jsonl").read_bytes().splitlines(keepends=True)
    (bad_utf8 / "train.jsonl").write_bytes(b"".join(rows[:5]) + b'{"text": "caf\xff"}\n' + b"".join(rows[5:10]))
    (ws / "not-adapters.safetensors").write_text("model: m\n")
    ift = {**GOOD, "training_type": "ift"}

    yield "huge max_iterations", {**GOOD, "max_iterations": HUGE}, ["max_iterations", "400-digit", "≤ 1000000000"]
    yield "huge steps_per_eval", {**GOOD, "steps_per_eval": HUGE}, ["steps_per_eval", "400-digit"]
    yield "huge learning_rate", {**GOOD, "learning_rate": HUGE}, ["learning_rate", "400-digit"]
    yield "0xFF in train.jsonl", {**GOOD, "data": "data/bad-utf8"}, ["bad-utf8/train.jsonl", "line 6", "not UTF-8",
                                                                      "0xFF"]
    yield "betas: abc", {**GOOD, "optimizer_config": {"adamw": {"betas": "abc"}}}, ["optimizer_config",
                                                                                    "adamw.betas", "'abc'"]
    yield "eps: -1", {**GOOD, "optimizer_config": {"adamw": {"eps": -1}}}, ["optimizer_config", "adamw.eps", "> 0"]
    yield "adapter file not safetensors", {**GOOD, "resume_adapter_file": "not-adapters.safetensors"}, [
        "resume_adapter_file", "not-adapters.safetensors", "not an adapter file"]
    yield "IFT content is a number", {**ift, "data": _ift_with(ws, "ift-number", _chat({"role": "user", "content": 5}))}, [
        "ift-number/train.jsonl", "line 9", "content 5", "not text"]
    yield "IFT content is null", {**ift, "data": _ift_with(ws, "ift-null", _chat({"role": "user", "content": None}))}, [
        "ift-null/train.jsonl", "line 9", "content None"]
    yield "IFT unknown role", {**ift, "data": _ift_with(ws, "ift-role", _chat({"role": "wizard", "content": "hi"}))}, [
        "ift-role/train.jsonl", "line 9", "role 'wizard'", "user"]
    yield "truncated weights", {**GOOD, "model": _model_copy(
        ws, "truncated", lambda f: os.truncate(f / "model.safetensors", 100_000))}, [
        "model", "model.safetensors", "truncated"]
    yield "random weights file", {**GOOD, "model": _model_copy(
        ws, "random", lambda f: (f / "model.safetensors").write_bytes(os.urandom(4096)))}, [
        "model", "model.safetensors", "corrupt"]
    yield "unknown model_type", {**GOOD, "model": _model_copy(
        ws, "wobble", lambda f: _edit_json(f / "config.json", model_type="wobble"))}, [
        "model", "config.json", "wobble not supported"]
    yield "config sizes differ from weights", {**GOOD, "model": _model_copy(
        ws, "wider", lambda f: _edit_json(f / "config.json", hidden_size=512))}, [
        "model", "config.json", "shape", "embed_tokens"]
    yield "corrupt tokenizer.json", {**GOOD, "model": _model_copy(
        ws, "half-tokenizer", lambda f: (f / "tokenizer.json").write_text((f / "tokenizer.json").read_text()[:5000]))}, [
        "model", "tokenizer.json", "corrupt"]


def _refusal_problem(ws: Path, capsys, raw: dict, words: list[str]) -> str | None:
    """What is wrong with how ``forgellm-tui train`` refused ``raw`` (None when it was refused right)."""
    path = ws / "configs" / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    try:
        rc = cli.main(["--workspace", str(ws), "train", str(path)])
    except Exception as exc:  # noqa: BLE001 - a traceback is one of the problems this test looks for
        return f"raised {type(exc).__name__}: {str(exc)[:200]}"
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    left = run_dirs(ws)
    for folder in left:
        shutil.rmtree(folder)
    if rc != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in captured.err:
        return f"exit {rc}: {captured.err.strip()[-300:]}"
    if left:
        return f"left {[p.name for p in left]}"
    missing = [w for w in words if w not in lines[0]]
    return f"{missing} not in {lines[0]!r}" if missing else None


def test_damaged_files_and_impossible_values_are_one_line_before_any_run_folder(workspace, capsys):
    problems = {label: _refusal_problem(workspace, capsys, raw, words) for label, raw, words in _cases(workspace)}
    bad = [f"{label}: {problem}" for label, problem in problems.items() if problem]
    assert not bad, "\n".join(bad)


def test_huge_number_given_with_set_is_one_line(workspace, capsys):
    rc = cli.main(["--workspace", str(workspace), "train", str(workspace / "configs/cpt-demo.yaml"), "--set", f"steps_per_eval={HUGE}"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "steps_per_eval" in err and "Traceback" not in err


def test_lr_schedule_null_is_a_constant_rate():
    from forgellm_tui.core.config.model import from_dict

    cfg = from_dict({**GOOD, "lr_schedule": None})
    assert cfg.lr_schedule == "constant"
    cfg = from_dict(yaml.safe_load("model: m\ndata: d\nlr_schedule: null\n"))
    assert cfg.lr_schedule == "constant"


@pytest.mark.parametrize("value", [[0.9], [0.9, 1.5], "abc", None])
def test_optimizer_betas_must_be_two_numbers_below_one(value):
    from forgellm_tui.core.config.model import field_errors

    errors = field_errors({**GOOD, "optimizer_config": {"adam": {"betas": value}}, "optimizer": "adam"})
    assert "adam.betas must be two numbers in [0, 1)" in errors["optimizer_config"]
