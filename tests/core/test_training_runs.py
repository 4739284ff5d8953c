"""Reading run folders while they are written: truncated metrics lines, dead processes, listing."""

from __future__ import annotations

import json
import os

from forgellm_tui.core.runs.folder import RunFolder
from forgellm_tui.core.runs.reader import INTERRUPTED, list_runs, read_metrics, read_run
from forgellm_tui.settings import Settings

from forgellm_tui.core.config.model import from_dict


def _run(ws, name="r1", **info):
    cfg = from_dict({"model": "m", "data": "d", "name": name}, workspace=ws)
    run = RunFolder.create(ws / "models" / "cpt" / name, cfg)
    run.update(**info)
    return run


def test_metrics_with_a_truncated_last_line(tmp_path):
    run = _run(tmp_path, status="running", pid=os.getpid())
    run.append_metrics({"iteration": 0, "validation_loss": 8.0})
    run.append_metrics({"iteration": 5, "training_loss": 7.0})
    path = run.path / "metrics.jsonl"
    with open(path, "a") as fh:
        fh.write('{"iteration": 10, "training_lo')          # the writer is in the middle of a line
    records, offset = read_metrics(run.path)
    assert [r["iteration"] for r in records] == [0, 5]
    with open(path, "a") as fh:
        fh.write('ss": 6.5}\n')
    more, offset2 = read_metrics(run.path, offset)
    assert more == [{"iteration": 10, "training_loss": 6.5}] and offset2 == path.stat().st_size
    # a resume rewrote the file shorter: reading starts over instead of losing records
    run.truncate_metrics(5)
    again, _ = read_metrics(run.path, offset2)
    assert [r["iteration"] for r in again] == [0, 5]
    info = read_run(run.path)
    assert info.status == "running" and info.iteration == 5 and info.last_training_loss == 7.0


def test_a_run_whose_process_died_is_interrupted(tmp_path):
    run = _run(tmp_path, status="running", pid=2**22 + 12345)
    assert read_run(run.path).status == INTERRUPTED
    run.update(status="finished")
    assert read_run(run.path).status == "finished"


def test_list_runs_and_non_runs(tmp_path):
    settings = Settings.load(tmp_path)
    assert list_runs(settings) == []
    _run(tmp_path, "a", status="finished", started_at="2026-01-01T00:00:00Z")
    _run(tmp_path, "b", status="failed", started_at="2026-02-01T00:00:00Z", error="boom")
    (tmp_path / "models" / "cpt" / "not-a-run").mkdir()
    (tmp_path / "models" / "cpt" / "broken").mkdir()
    (tmp_path / "models" / "cpt" / "broken" / "run.json").write_text("{not json")
    runs = list_runs(settings)
    assert [r.name for r in runs] == ["b", "a", "broken"] and runs[0].error == "boom"
    assert runs[2].status == "unreadable" and "broken/run.json: not a JSON object" in runs[2].error
    assert json.loads(json.dumps([r.to_dict() for r in runs]))[1]["status"] == "finished"
    assert read_run(tmp_path / "models" / "cpt" / "not-a-run") is None
