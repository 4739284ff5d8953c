"""`forgellm-tui prepare --kind preference` and `stats` on preference data: summary, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest

from cli_helpers import one_line_error, run


def write_pairs(path, count: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt": f"What is module {i} for?", "chosen": f"Module {i} parses text.",
                                        "rejected": f"Module {i} is a kind of fruit."}) + "\n"
                            for i in range(count)), encoding="utf-8")


def test_prepare_preference_prints_pairs_and_tokens_and_lists_bad_lines(workspace, capsys):
    source = workspace / "mine" / "pairs.jsonl"
    write_pairs(source)
    with open(source, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"prompt": "Q", "chosen": "same", "rejected": "same"}) + "\n")
    assert run(workspace, "prepare", "--kind", "preference", "--input", str(source.parent), "--name", "prefs") == 1
    captured = capsys.readouterr()
    assert f"preparing PREFERENCE data from {source.parent}" in captured.out
    assert f"{source}:31: \"chosen\" and \"rejected\" are the same answer" in captured.out
    assert "pairs and tokens per split (prompt / chosen / rejected):" in captured.out
    manifest = json.loads((workspace / "data" / "prefs" / "manifest.json").read_text())
    assert manifest["kind"] == "preference" and manifest["totals"]["pairs"] == 30
    assert f"train: {manifest['totals']['train_records']} pairs" in captured.out
    assert "1 line(s) skipped" in captured.err


@pytest.mark.parametrize("kind, content, words", [
    ("ift", {"prompt": "Q?", "chosen": "yes", "rejected": "no"}, "is preference pairs"),
    ("preference", {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]},
     "is IFT conversations"),
])
def test_data_of_the_other_kind_is_one_line_and_exit_2(workspace, capsys, kind, content, words):
    source = workspace / "configs" / "other.jsonl"
    source.write_text(json.dumps(content) + "\n", encoding="utf-8")
    assert run(workspace, "prepare", "--kind", kind, "--input", str(source), "--name", "out") == 2
    line = one_line_error(capsys.readouterr().err)
    other = "preference" if kind == "ift" else "ift"
    assert words in line and f"forgellm-tui prepare --kind {other} --input {source}" in line
    assert not (workspace / "data" / "out").exists()


def test_stats_labels_preference_files_and_prepared_folders(workspace, capsys):
    """The demo's pair file counts the same prompt/chosen/rejected tokens as the folder prepare made of it."""
    source = workspace / "dataset" / "preference" / "stdlib_prefs.jsonl"
    prepared = workspace / "data" / "demo-preference"
    assert run(workspace, "stats", str(source), str(prepared), "--model", "forge-tiny", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    found = next(f for f in data["files"] if f["path"] == str(source))
    assert found["kind"] == "preference" and found["preference"]["pairs"] == len(source.read_text().splitlines())
    assert found["preference"]["tokens_counted"] == "chat template"
    folder = next(p for p in data["prepared"] if p["path"] == str(prepared))
    assert folder["kind"] == "preference"
    for key in ("pairs", "prompt_tokens", "chosen_tokens", "rejected_tokens"):
        assert found["preference"][key] == sum(split[key] for split in folder["splits"].values()), key
    clean = next(f for f in data["files"] if f["path"] == str(prepared / "train.jsonl"))
    assert clean["kind"] == "preference"
    assert run(workspace, "stats", str(workspace / "dataset" / "ift" / "stdlib_qa.jsonl"), str(prepared)) == 0
    table = capsys.readouterr().out
    assert f"{prepared}: prepared preference data: {folder['train']} train / {folder['valid']} valid" in table
    assert "stdlib_qa.jsonl: preference pairs" not in table
