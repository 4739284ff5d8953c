"""Evaluation results feed the checkpoint ranking and the published model card (real eval on the demo run)."""

from __future__ import annotations

import json

import pytest

from forgellm_tui.core.evaluate import EvalRequest, evaluate
from forgellm_tui.core.publish.fuse import publish
from forgellm_tui.core.runs import ranked_checkpoints, read_metrics
from forgellm_tui.core.runs.analysis import run_detail
from forgellm_tui.core.runs.reader import read_run
from forgellm_tui.settings import Settings

from publish_helpers import RUN, run_dir

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]
TASKS = "tasks/doc-continuations.jsonl"


def _evaluate_all(ws, demo_dir) -> dict[str, dict]:
    """Every checkpoint evaluated on the test split and the demo task file; results by checkpoint label."""
    request = EvalRequest(target=str(run_dir(ws)), checkpoint="all", data="data/cpt-demo", limit=8,
                          tasks=(str(demo_dir / TASKS),))
    report = evaluate(request, Settings.load(ws, env={}))
    return {r["checkpoint"]: r for r in report.results}


def test_the_ranking_picks_the_lowest_test_perplexity_and_says_so(ws, demo_dir):
    run = run_dir(ws)
    results = _evaluate_all(ws, demo_dir)
    for label in ("0000012", "best"):  # leave the newest (lowest validation loss) checkpoint unevaluated
        (run / "eval" / f"{label}.json").unlink(missing_ok=True)
    ppl = {results[k]["iteration"]: results[k]["perplexity"]["perplexity"] for k in ("0000004", "0000008")}
    ranked = ranked_checkpoints(run, read_metrics(run)[0])
    top = min(ppl, key=ppl.get)
    assert [s.iteration for s in ranked[:2]] == sorted(ppl, key=ppl.get)
    assert ranked[-1].iteration == 12  # not evaluated: after every evaluated checkpoint
    change = results[f"{top:07d}"]["change"]["perplexity_pct"]
    words = f"lowest test perplexity {ppl[top]:.1f}, {change:+.1f}% vs base".replace("-", "\u2212")
    assert ranked[0].reason.startswith(words), ranked[0].reason
    # the Checkpoints screen's rows and `publish --checkpoint recommended` use the same order
    rows = {r.label: r for r in run_detail(read_run(run)).checkpoints}
    assert rows[f"{top:07d}"].rank == 1 and rows[f"{top:07d}"].evaluation.perplexity == ppl[top]
    chosen = publish(run, ws / "published", checkpoint="recommended", settings=Settings.load(ws, env={}))
    assert chosen.checkpoint_iteration == top


def test_publish_puts_the_evaluation_into_the_card_and_metadata(ws, demo_dir):
    results = _evaluate_all(ws, demo_dir)
    result = publish(run_dir(ws), ws / "published", checkpoint=8, settings=Settings.load(ws, env={}))
    saved = json.loads((run_dir(ws) / "eval" / "0000008.json").read_text())
    assert saved == results["0000008"]
    meta = json.loads((result.path / "metadata.json").read_text())
    ev = meta["evaluation"]
    assert ev["split"] == "test" and ev["checkpoint"] == "0000008"
    assert ev["tokens"] == saved["perplexity"]["tokens"] > 0
    assert ev["loss"] == saved["perplexity"]["loss"] and ev["perplexity"] == saved["perplexity"]["perplexity"]
    assert ev["base_perplexity"] == saved["base"]["perplexity"]["perplexity"]
    assert ev["perplexity_change_pct"] == saved["change"]["perplexity_pct"]
    assert ev["tasks"] == {name: {k: t[k] for k in ("items", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr",
                                                    "chance")} for name, t in saved["tasks"].items()}
    readme = (result.path / "README.md").read_text()
    assert "## Evaluation" in readme and "on the `test` split" in readme
    assert f"| this checkpoint | {saved['perplexity']['loss']:.4f} | {saved['perplexity']['perplexity']:.2f} |" in readme
    assert f"| base model | {saved['base']['perplexity']['loss']:.4f} | " \
           f"{saved['base']['perplexity']['perplexity']:.2f} |" in readme
    assert f"{saved['change']['perplexity_pct']:+.2f}%" in readme
    for name, t in saved["tasks"].items():
        assert f"| {name} | {t['items']} | {t['acc']:.4f} ± {t['acc_stderr']:.4f} |" in readme


def test_without_results_the_card_has_no_evaluation(ws):
    result = publish(run_dir(ws), ws / "published", checkpoint=8, settings=Settings.load(ws, env={}))
    assert "evaluation" not in json.loads((result.path / "metadata.json").read_text())
    readme = (result.path / "README.md").read_text()
    assert "## Evaluation" not in readme and "test perplexity" not in readme and RUN in readme
