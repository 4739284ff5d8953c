"""`forgellm-tui prepare --kind preference` and `stats` on preference data: summary, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest

from forgellm_tui.cli import main


def run(ws, *argv):
    return main(["--workspace", str(ws), *argv])


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def write_pairs(path, count: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt": f"What is module {i} for?", "chosen": f"Module {i} parses text.",
                                        "rejected": f"Module {i} is a kind of fruit."}) + "\n"
                            for i in range(count)), encoding="utf-8")


def test_prepare_preference_prints_pairs_and_tokens_and_lists_bad_lines(workspace, capsys):
    source = workspace / "dataset" / "preference" / "mine.jsonl"
    write_pairs(source)
    with open(source, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"prompt": "Q", "chosen": "same", "rejected": "same"}) + "\n")
    assert run(workspace, "prepare", "--kind", "preference", "--name", "prefs") == 1
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
