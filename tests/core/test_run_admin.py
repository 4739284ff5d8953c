"""Runs as the Checkpoints screen sees them (ranked checkpoints, problems, compare, commands) and deleting."""

from __future__ import annotations

import json
import shlex
import shutil

import pytest

from forgellm_tui import cli
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs.admin import delete_checkpoint, delete_published, delete_run
from forgellm_tui.core.runs.analysis import all_runs, compare_runs, filter_runs, headless_commands, run_detail, sort_runs
from forgellm_tui.core.runs.reader import read_run
from forgellm_tui.settings import Settings

from publish_helpers import RUN, leftovers, mark_running, run_dir
from train_helpers import metrics_lines

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]


def _settings(ws):
    return Settings.load(ws, env={})


def test_run_detail_ranks_checkpoints_with_reasons(ws):
    detail = run_detail(read_run(run_dir(ws)), _settings(ws))
    labels = [c.label for c in detail.checkpoints]
    assert labels == ["best", "0000012", "0000008", "0000004"]
    numbered = [c for c in detail.checkpoints if c.label != "best"]
    assert sorted(c.rank for c in numbered) == [1, 2, 3]
    lowest = min(numbered, key=lambda c: c.validation_loss)  # rank also weighs gap and stability
    assert "lowest validation loss" in lowest.reason and all(c.reason for c in numbered)
    best = detail.checkpoints[0]
    assert best.iteration == lowest.iteration and best.protected and "best" in best.protected
    assert all(c.protected is None for c in numbered)  # a finished run: any numbered one may go
    assert detail.base_model == ws / "models/base/forge-tiny" and not detail.problems
    assert [it for it, _ in detail.val] == [0, 4, 8, 12] and detail.train and "model:" in detail.config_text


def test_problems_are_named(ws):
    run = run_dir(ws)
    (run / "checkpoints/0000004/adapter_config.json").unlink()
    (run / "metrics.jsonl").unlink()
    shutil.copytree(run, ws / "models/cpt/orphan")
    (ws / "models/cpt/orphan/run.json").write_text("{not json")
    (ws / "models/base/forge-tiny").unlink()
    runs = all_runs(_settings(ws))
    assert sorted(r.name for r in runs) == ["demo-run", "orphan"]
    detail = run_detail(next(r for r in runs if r.name == RUN), _settings(ws))
    text = "\n".join(detail.problems)
    assert "metrics.jsonl is missing" in text
    assert "checkpoints/0000004/ is incomplete (missing adapter_config.json)" in text
    assert "no longer present" in text and detail.base_model is None
    assert [c.label for c in detail.checkpoints] == ["best", "0000012", "0000008"]
    orphan = next(r for r in runs if r.name == "orphan")
    assert orphan.status == "unreadable" and "run.json" in "\n".join(run_detail(orphan).problems)


def test_sort_filter_compare(ws):
    other = ws / "models/cpt/b-run"
    shutil.copytree(run_dir(ws), other)
    info = json.loads((other / "run.json").read_text())
    info.update(name="b-run", started_at="2000-01-01T00:00:00Z", model="models/base/other",
                best_validation_loss=info["best_validation_loss"] + 1)
    (other / "run.json").write_text(json.dumps(info))
    records = metrics_lines(other)
    for rec in records:  # a worse run: every validation loss 1.0 higher
        rec["validation_loss"] = None if rec["validation_loss"] is None else rec["validation_loss"] + 1
    (other / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    runs = all_runs(_settings(ws))
    assert [r.name for r in sort_runs(runs, "date")] == [RUN, "b-run"]  # newest first
    assert [r.name for r in sort_runs(runs, "name")] == ["b-run", RUN]
    assert [r.name for r in sort_runs(runs, "best val")] == [RUN, "b-run"]
    assert [r.name for r in filter_runs(runs, "OTHER cpt")] == ["b-run"]
    assert filter_runs(runs, "") == runs and filter_runs(runs, "nothing-like-this") == []
    rows = compare_runs(runs)
    assert [r.name for r in rows] == [RUN, "b-run"]
    assert rows[1].best_validation_loss == pytest.approx(rows[0].best_validation_loss + 1)
    assert rows[0].learning_rate == 1e-3 and rows[0].batch_size == 2 and len(rows[0].val) == 4


def test_delete_refuses_protected_items(ws):
    run = run_dir(ws)
    with pytest.raises(ForgeError, match="best/ is the run's best checkpoint"):
        delete_checkpoint(run, "best")
    mark_running(run)
    with pytest.raises(ForgeError, match="newest checkpoint of a run that is still training"):
        delete_checkpoint(run, 12)
    with pytest.raises(ForgeError, match="still training"):
        delete_run(run)
    delete_checkpoint(run, 4)  # an older one may go while it trains
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["0000008", "0000012"]
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "stopped"}))
    delete_checkpoint(run, 12)  # stopped: the newest may go too
    assert leftovers(run / "checkpoints") == ["0000008"] and (run / "best/adapters.safetensors").is_file()
    with pytest.raises(ForgeError, match="checkpoint not found"):
        delete_checkpoint(run, 12)
    with pytest.raises(ForgeError, match="not a run folder"):
        delete_run(ws / "configs")
    delete_run(run)
    assert leftovers(ws / "models/cpt") == []
    (ws / "published/m").mkdir()
    with pytest.raises(ForgeError, match="not a published model"):
        delete_published(ws / "configs", ws / "published")
    delete_published(ws / "published/m", ws / "published")
    assert leftovers(ws / "published") == []


def test_headless_command_reproduces_the_run(ws, monkeypatch, capsys):
    """The command shown for a run trains a new run with the same losses (same config, same seed)."""
    commands = dict(headless_commands(read_run(run_dir(ws)), ws))
    cd, again = commands["go to the workspace"], next(c for k, c in commands.items() if k.startswith("train a new"))
    assert cd == f"cd {ws}" and again.startswith("forgellm-tui train ")
    monkeypatch.chdir(ws)
    assert cli.main(shlex.split(again)[1:]) == 0
    capsys.readouterr()
    new = ws / "models/cpt" / f"{RUN}-again"
    old_losses = [(r["iteration"], r["training_loss"], r["validation_loss"]) for r in metrics_lines(run_dir(ws))]
    new_losses = [(r["iteration"], r["training_loss"], r["validation_loss"]) for r in metrics_lines(new)]
    assert [o[0] for o in old_losses] == [n[0] for n in new_losses]
    for (_, t0, v0), (_, t1, v1) in zip(old_losses, new_losses):
        assert (t0 is None) == (t1 is None) and (t0 is None or abs(t0 - t1) < 1e-4)
        assert (v0 is None) == (v1 is None) and (v0 is None or abs(v0 - v1) < 1e-4)
