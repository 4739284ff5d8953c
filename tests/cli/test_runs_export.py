"""`forgellm-tui runs RUN --csv | --md | --save`: a real run's metrics (and evaluations) exported."""

from __future__ import annotations

import csv
import io
import json

import pytest

from forgellm_tui.cli import main

from publish_helpers import clone, run_dir, trained_workspace


def run(ws, *argv):
    return main(["--workspace", str(ws), *argv])


@pytest.fixture
def ws(tmp_path_factory, demo_dir, tmp_path):
    return clone(trained_workspace(tmp_path_factory, demo_dir), tmp_path / "ws")


def _metrics(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]


def _same(cell: str, value) -> bool:
    """A CSV cell read back equals the metrics.jsonl value (numbers exactly, absent as empty)."""
    if value is None:
        return cell == ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(cell) == value and (isinstance(value, float) or cell == str(value))
    return cell == str(value)


def test_csv_round_trips_metrics_jsonl(ws, capsys):
    folder = run_dir(ws)
    assert run(ws, "runs", folder.name, "--csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    records = _metrics(folder)
    assert len(rows) == len(records) > 3
    for row, record in zip(rows, records):
        assert set(record) <= set(row)
        assert all(_same(row[key], record.get(key)) for key in row), (row, record)


def test_markdown_and_saved_files_include_evaluations(ws, capsys):
    folder = run_dir(ws)
    assert run(ws, "eval", str(folder), "--checkpoint", "all", "--data", "data/cpt-demo", "--limit", "4") == 0
    capsys.readouterr()
    assert run(ws, "runs", str(folder), "--md") == 0
    md = capsys.readouterr().out
    evaluated = len(list((folder / "eval").glob("*.json")))
    assert md.startswith(f"# {folder.name}\n") and f"## Evaluations ({evaluated} checkpoints)" in md
    assert all(f"| {label} | {int(label)} | test |" in md for label in ("0000004", "0000008", "0000012"))
    assert "| iteration | timestamp | training_loss |" in md
    assert run(ws, "runs", folder.name, "--csv", "--eval") == 0
    evals = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    saved = json.loads((folder / "eval" / "0000012.json").read_text())
    row = next(r for r in evals if r["checkpoint"] == "0000012")
    assert float(row["perplexity"]) == saved["perplexity"]["perplexity"] and row["iteration"] == "12"
    assert run(ws, "runs", folder.name, "--save") == 0
    paths = capsys.readouterr().out.split()
    export = folder / "export"
    assert paths == [str(export / "metrics.csv"), str(export / "eval.csv"), str(export / "metrics.md")]
    assert (export / "metrics.md").read_text() == md


@pytest.mark.parametrize("argv,words", [
    (["--csv"], "export one run"),
    (["nope-run", "--csv"], "no run folder named 'nope-run'"),
    (["demo-run"], "say how to export it"),
    (["demo-run", "--md", "--eval"], "--eval picks the evaluations table of --csv"),
    (["demo-run", "--csv", "--eval"], "the run has no evaluations"),
])
def test_bad_export_requests_are_one_line(ws, capsys, argv, words):
    assert run(ws, "runs", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err
    assert not (run_dir(ws) / "export").exists()
