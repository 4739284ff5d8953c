"""`forgellm-tui eval`: the report, --json, and one-line errors that leave nothing behind."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from cli_helpers import one_line_error, run

from publish_helpers import clone, run_dir, trained_workspace


@pytest.fixture
def ws(tmp_path_factory, demo_dir, tmp_path):
    return clone(trained_workspace(tmp_path_factory, demo_dir), tmp_path / "ws")


def test_eval_reports_the_change_against_the_base_model(ws, capsys):
    assert run(ws, "eval", str(run_dir(ws)), "--checkpoint", "latest", "--data", "data/cpt-demo", "--limit", "12") == 0
    out = capsys.readouterr().out
    assert "base model: loss" in out and "checkpoint 0000012: loss" in out
    assert "better than the base model" in out and str(run_dir(ws) / "eval" / "0000012.json") in out


def test_eval_json_lists_every_checkpoint(ws, capsys):
    assert run(ws, "eval", str(run_dir(ws)), "--checkpoint", "all", "--data", "data/cpt-demo", "--limit", "4",
               "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["checkpoint"] for r in results][:3] == ["0000004", "0000008", "0000012"]
    assert all(r["perplexity"]["tokens"] > 0 and r["base"]["perplexity"] == results[0]["base"]["perplexity"]
               for r in results)


def test_eval_of_a_base_model_with_the_demo_task(ws, demo_dir, capsys):
    tasks = demo_dir / "tasks" / "doc-continuations.jsonl"
    assert run(ws, "eval", "forge-tiny", "--tasks", str(tasks), "--limit", "6") == 0
    out = capsys.readouterr().out
    assert "doc-continuations: acc" in out and "chance 0.250" in out
    assert (ws / "eval" / "forge-tiny.json").is_file()


def _bad_task(tmp_path, line: str):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"query": "a", "choices": [" b", " c"], "gold": 0}) + "\n" + line + "\n")
    return str(path)


@pytest.mark.parametrize("case, expected", [
    ("no test split", "no test split (test.jsonl is missing)"),
    ("empty split", "test.jsonl has no rows"),
    ("bad task line", "line 2 is not valid JSON"),
    ("gold out of range", 'line 2: "gold" 2 is out of range: there are 2 choices'),
    ("checkpoint without files", "checkpoint is incomplete (missing adapters.safetensors)"),
    ("no such checkpoint", "no checkpoint at iteration 99"),
    ("base model does not match", "adapter weights do not match the base model"),
])
def test_bad_input_is_one_line_and_writes_nothing(ws, tmp_path, capsys, case, expected):
    run_folder = run_dir(ws)
    args = ["eval", str(run_folder), "--data", "data/cpt-demo", "--limit", "2"]
    if case == "no test split":
        args = ["eval", str(run_folder)]  # the run's own data (a slice with train and valid only)
    elif case == "empty split":
        (ws / "data" / "empty").mkdir()
        (ws / "data" / "empty" / "test.jsonl").write_text("")
        args[3] = "data/empty"
    elif case == "bad task line":
        args += ["--tasks", _bad_task(tmp_path, '{"query": ')]
    elif case == "gold out of range":
        args += ["--tasks", _bad_task(tmp_path, json.dumps({"query": "a", "choices": [" b", " c"], "gold": 2}))]
    elif case == "checkpoint without files":
        (run_folder / "checkpoints" / "0000008" / "adapters.safetensors").unlink()
        args += ["--checkpoint", "8"]
    elif case == "no such checkpoint":
        args += ["--checkpoint", "99"]
    else:
        _other_base_model(ws, run_folder)
    assert run(ws, *args) == 2
    assert expected in one_line_error(capsys.readouterr().err)
    assert not (run_folder / "eval").exists()


def _other_base_model(ws, run_folder) -> None:
    """models/base/other: the demo tokenizer with a narrower llama; the run's config.yaml names it."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models.llama import Model, ModelArgs

    other = ws / "models" / "base" / "other"
    shutil.copytree(ws / "models" / "base" / "forge-tiny", other)
    config = json.loads((other / "config.json").read_text())
    config.update(hidden_size=128, intermediate_size=352)
    (other / "config.json").write_text(json.dumps(config))
    args = ModelArgs(**{k: v for k, v in config.items() if k in ModelArgs.__dataclass_fields__})
    mx.save_safetensors(str(other / "model.safetensors"), dict(tree_flatten(Model(args).parameters())))
    run_config = yaml.safe_load((run_folder / "config.yaml").read_text())
    run_config["model"] = "models/base/other"
    (run_folder / "config.yaml").write_text(yaml.safe_dump(run_config))
