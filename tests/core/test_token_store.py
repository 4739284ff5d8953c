"""Token ids stored by ``prepare`` and reused by training; progress while tokenizing when they cannot be."""

from __future__ import annotations

import json
import shutil

import numpy as np

from forgellm_tui.cli import main
from forgellm_tui.core import events as ev

from train_helpers import MODEL, Recorder, make_cfg, slice_data

TRAIN = ["--set", "max_iterations=2", "--set", "warmup_steps=0", "--set", "steps_per_eval=2", "--set",
         "val_batches=1", "--set", "save_every=2"]


def prepare(ws, name="stored") -> str:
    assert main(["--workspace", str(ws), "prepare", "--name", name, "--target-tokens", "127",
                 "--mix-ratio", "1"]) == 0
    return f"data/{name}"


def train_output(ws, data, capsys) -> str:
    capsys.readouterr()
    config = str(ws / "configs" / "cpt-demo.yaml")
    assert main(["--workspace", str(ws), "train", config, "--set", f"data={data}", *TRAIN]) == 0
    return capsys.readouterr().out


def test_stored_ids_are_the_ids_training_makes(workspace):
    from mlx_lm.utils import load_tokenizer

    from forgellm_tui.core.config.model import from_dict
    from forgellm_tui.core.tokens.store import load_or_tokenize
    from forgellm_tui.core.tokens.rows import tokenize
    from forgellm_tui.core.training.data import read_split

    folder = workspace / prepare(workspace)
    cfg = from_dict({"model": MODEL, "data": "data/stored"}, workspace=workspace)
    tokenizer = load_tokenizer(workspace / MODEL)
    train_rows, fmt = read_split(folder / "train.jsonl", cfg)
    valid_rows, _ = read_split(folder / "valid.jsonl", cfg, fmt)
    notes = []
    train, valid = load_or_tokenize(folder, workspace / MODEL, train_rows, valid_rows, fmt, tokenizer, cfg,
                                    log=notes.append)
    assert notes[0].startswith("using the token ids stored by prepare"), notes
    for data, rows in ((train, train_rows), (valid, valid_rows)):
        fresh = tokenize(rows, fmt, tokenizer, cfg)
        assert np.array_equal(data.lengths, fresh.lengths) and np.array_equal(data.flat, fresh.flat)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["token_ids"]["splits"]["train"]["tokens"] == train.tokens


def test_training_on_prepared_data_does_not_tokenize_again(workspace, capsys):
    out = train_output(workspace, prepare(workspace), capsys)
    assert "info: using the token ids stored by prepare" in out, out
    assert "tokenizing" not in out


def test_changed_data_is_tokenized_again_with_progress(workspace, capsys):
    data = prepare(workspace)
    train = workspace / data / "train.jsonl"
    with open(train, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": "One more row written after prepare."}) + "\n")
    out = train_output(workspace, data, capsys)
    assert "tokenizing" in out and "train.jsonl changed since it was prepared" in out, out
    progress = [line for line in out.splitlines() if line.startswith("tokenizing: ")]
    assert progress and "rows/s" in progress[0] and "(100%)" in progress[-1] and progress[-1].endswith(" · done")


def test_stored_ids_of_another_tokenizer_or_that_differ_are_not_used(workspace, capsys):
    from forgellm_tui.core.tokens import store as token_store

    data = prepare(workspace)
    other = workspace / "models" / "base" / "forge-other"
    shutil.copytree(workspace / MODEL, other)
    config = other / "tokenizer_config.json"
    config.write_text(config.read_text() + "\n")
    stored, why = token_store.load(workspace / data, other, {"train": 1, "valid": 1})
    assert stored is None and "another tokenizer" in why
    ids = workspace / data / "train.tokens.bin"
    flat = np.fromfile(ids, dtype=np.uint32)
    flat[0] = (flat[0] + 1) % 100  # same size, different first id
    flat.tofile(ids)
    out = train_output(workspace, data, capsys)
    assert "the stored token ids differ from what this tokenizer makes of the rows" in out, out


def test_a_real_run_reports_tokenizing_progress_to_the_app(workspace):
    from forgellm_tui.core.training.engine import train
    from forgellm_tui.tui.run_view import RunView
    from forgellm_tui.tui.widgets.run_status import RunStatus

    seen = []

    def status_while_starting(event):
        if isinstance(event, ev.Progress) and event.done < event.total:
            view = RunView(state="starting")
            view.apply_event(event)
            seen.append("\n".join(str(r) for r in RunStatus.render_view(view).renderables))

    events = Recorder(status_while_starting)
    data = slice_data(workspace, "cpt-demo", "cpt-sliced", 1100, 60)  # no manifest: tokenized at start
    result = train(make_cfg(workspace, data=data, max_iterations=2), on_event=events)
    assert result.status == "finished"
    progress = events.by_type["Progress"]
    assert progress[-1].done == progress[-1].total == 1160 and progress[-1].task == "tokenizing"
    assert [p.done for p in progress] == sorted(p.done for p in progress) and progress[0].done < 1160
    # the status panel shows rows done, rows/s and the time left while the rows are tokenized
    assert seen and all("tokenizing: " in text and "rows/s" in text and "ETA" in text for text in seen), seen
    log = [e.message for e in events.by_type["LogLine"]]
    assert any(m.startswith("tokenizing 1,100 training and 60 validation rows: the prepared data has no stored")
               for m in log), log
