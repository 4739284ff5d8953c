"""Evaluation: the test split, perplexity of checkpoints against the base model, multiple-choice tasks."""

from __future__ import annotations

import json
import math

import pytest

from forgellm_tui.core.datasets import PrepareOptions, prepare
from forgellm_tui.core.evaluate import (EvalRequest, TaskItem, choice_logliks, evaluate, load_tasks, mean_stderr,
                                        score_items)
from forgellm_tui.core.errors import DataError
from forgellm_tui.settings import Settings

from publish_helpers import run_dir, trained_workspace

DEMO_TASKS = "tasks/doc-continuations.jsonl"


def _lines(path):
    return path.read_text().splitlines() if path.is_file() else []


def _rows(path):
    """The rows of a JSONL split without the time of preparation (CPT rows record when they were made)."""
    rows = [json.loads(line) for line in _lines(path)]
    for row in rows:
        row.get("metadata", {}).pop("processed_at", None)
    return [json.dumps(row, sort_keys=True) for row in rows]


@pytest.mark.parametrize("kind", ["cpt", "ift"])
def test_prepare_holds_out_a_test_split_without_changing_validation(small_workspace, kind):
    ws = small_workspace
    common = dict(kind=kind, dataset_dir=ws / "dataset", model_path=ws / "models/base/forge-tiny", target_tokens=127,
                  valid_fraction=0.2, seed=42, mix_ratio=1.0)
    without = prepare(PrepareOptions(output_dir=ws / "data" / "no-test", **common))
    result = prepare(PrepareOptions(output_dir=ws / "data" / "with-test", test_fraction=0.2, **common))
    out = ws / "data" / "with-test"
    test, train = _lines(out / "test.jsonl"), _lines(out / "train.jsonl")
    assert result.test_records == len(test) > 0 and result.test_tokens > 0
    assert not (ws / "data" / "no-test" / "test.jsonl").exists() and without.test_records == 0
    # validation is the same rows with or without a test split; the test rows come out of training
    assert _rows(out / "valid.jsonl") == _rows(ws / "data" / "no-test" / "valid.jsonl")
    assert sorted(_rows(out / "train.jsonl") + _rows(out / "test.jsonl")) == sorted(_rows(ws / "data" / "no-test" / "train.jsonl"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["test_fraction"] == 0.2
    assert manifest["totals"]["test_records"] == len(test)
    if kind == "cpt":  # split by document: no document has rows on two sides
        side = {}
        for split in ("train", "valid", "test"):
            for line in _lines(out / f"{split}.jsonl"):
                assert side.setdefault(json.loads(line)["metadata"]["source"], split) == split


def test_test_and_validation_shares_must_leave_training_data(small_workspace):
    with pytest.raises(DataError, match="leave no training data"):
        PrepareOptions(kind="cpt", dataset_dir=small_workspace / "dataset", output_dir=small_workspace / "data" / "x",
                       valid_fraction=0.5, test_fraction=0.5)


def test_the_demo_has_a_test_split_and_a_task_file(demo_dir):
    for name in ("cpt-demo", "ift-demo"):
        assert _lines(demo_dir / "data" / name / "test.jsonl")
    tasks = load_tasks(demo_dir / DEMO_TASKS)
    assert len(tasks.items) >= 50 and all(len(item.choices) == 4 for item in tasks.items)
    assert {item.gold for item in tasks.items} == {0, 1, 2, 3}
    # choices of one length: the length-normalised accuracy cannot favour a choice for its length alone
    assert all(len({len(choice) for choice in item.choices}) == 1 for item in tasks.items)


def test_choice_log_likelihood_equals_a_hand_computed_one(demo_model):
    import mlx.core as mx
    import numpy as np
    from mlx_lm import load

    model, tok = load(str(demo_model))
    query, choices = "The json module", (" encodes objects", " decodes")
    got = choice_logliks(model, tok, query, choices)
    context = tok.encode(query)
    for choice, value in zip(choices, got):
        ids = tok.encode(query + choice)
        logits = np.array(model(mx.array([ids]))[0].astype(mx.float32), dtype=np.float64)
        logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - logits.max(-1, keepdims=True)
        by_hand = sum(logp[t - 1, ids[t]] for t in range(len(context), len(ids)))
        assert value == pytest.approx(by_hand, abs=1e-4)


def test_accuracy_normalised_accuracy_and_standard_error():
    items = (TaskItem("a", "q", ("x", "yyyy"), 1), TaskItem("b", "q", ("xx", "y"), 0),
             TaskItem("c", "q", ("x", "y", "z"), 2))
    # a: plain pick 0 (wrong), per character pick 1 (right); b: both pick 0 (right); c: both pick 0 (wrong)
    scores = score_items(items, [[-2.0, -4.0], [-1.0, -3.0], [-1.0, -2.0, -3.0]])
    assert scores["acc"] == pytest.approx(1 / 3) and scores["acc_norm"] == pytest.approx(2 / 3)
    assert scores["acc_stderr"] == pytest.approx(math.sqrt((2 * (1 / 3) ** 2 + (2 / 3) ** 2) / 2 / 3))
    assert scores["chance"] == pytest.approx((0.5 + 0.5 + 1 / 3) / 3)
    assert mean_stderr([1.0]) is None


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_dir):
    return trained_workspace(tmp_path_factory, demo_dir)


def _request(ws, **over):
    base = dict(target=str(run_dir(ws)), data="data/cpt-demo", limit=16)
    base.update(over)
    return EvalRequest(**base)


def test_a_trained_checkpoint_beats_the_base_model_on_the_test_split(trained, tmp_path):
    from publish_helpers import clone

    ws = clone(trained, tmp_path / "ws")
    report = evaluate(_request(ws, checkpoint="latest"), Settings.load(ws))
    result = report.results[0]
    assert result["perplexity"]["perplexity"] < result["base"]["perplexity"]["perplexity"]
    assert result["change"]["perplexity_pct"] < 0 and result["change"]["loss"] < 0
    assert result["data"]["path"].endswith("cpt-demo/test.jsonl") and result["data"]["rows"] == 16
    saved = json.loads(report.paths[0].read_text())
    assert report.paths[0] == run_dir(ws) / "eval" / "0000012.json" and saved["perplexity"] == result["perplexity"]


def test_all_checkpoints_in_one_call_match_one_call_each(trained, tmp_path):
    from publish_helpers import clone

    ws = clone(trained, tmp_path / "ws")
    settings = Settings.load(ws)
    tasks = (str(trained / DEMO_TASKS),)
    together = evaluate(_request(ws, checkpoint="all", tasks=tasks, limit=8), settings).results
    labels = [r["checkpoint"] for r in together]
    assert labels[:3] == ["0000004", "0000008", "0000012"]
    for result in together:
        (run_dir(ws) / "eval" / f"{result['checkpoint']}.json").unlink()
        alone = evaluate(_request(ws, checkpoint=str(result["iteration"]) if result["checkpoint"] != "best"
                                  else "best", tasks=tasks, limit=8), settings).results[0]
        assert alone["perplexity"]["loss"] == pytest.approx(result["perplexity"]["loss"], rel=1e-6)
        assert alone["base"]["perplexity"]["loss"] == pytest.approx(result["base"]["perplexity"]["loss"], rel=1e-6)
        assert alone["tasks"] == result["tasks"]


def test_results_are_reused_until_the_data_changes(trained, tmp_path):
    from publish_helpers import clone

    ws = clone(trained, tmp_path / "ws")
    settings = Settings.load(ws)
    task = tmp_path / "tiny.jsonl"
    task.write_text(json.dumps({"query": "The json module", "choices": [" encodes", " is"], "gold": 0}) + "\n")
    first = evaluate(_request(ws, tasks=(str(task),), limit=4), settings)
    stamp = first.paths[0].stat().st_mtime_ns
    again = evaluate(_request(ws, tasks=(str(task),), limit=4), settings)
    assert again.reused == 1 and again.paths[0].stat().st_mtime_ns == stamp
    assert again.results[0]["perplexity"] == first.results[0]["perplexity"]
    task.write_text(task.read_text() + json.dumps({"query": "A", "choices": [" b", " c"], "gold": 1}) + "\n")
    changed = evaluate(_request(ws, tasks=(str(task),), limit=4), settings)
    assert changed.reused == 0 and changed.results[0]["tasks"]["tiny"]["items"] == 2
