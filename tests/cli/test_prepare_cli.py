"""`forgellm-tui prepare` and `forgellm-tui stats`: results, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_helpers import one_line_error, run


def test_prepare_cpt_writes_data_and_summary(workspace, capsys):
    assert run(workspace, "prepare", "--name", "mine", "--target-tokens", "100", "--mix-ratio", "1") == 0
    out = capsys.readouterr().out
    assert "train:" in out and "use max_seq_length 101" in out and "forge-tiny" in out
    rows = [json.loads(x) for x in (workspace / "data" / "mine" / "train.jsonl").read_text().splitlines()]
    assert rows and max(r["metadata"]["tokens"] for r in rows) <= 100
    assert (workspace / "data" / "mine" / "manifest.json").is_file()


def test_prepare_ift_reports_bad_lines_and_exits_1(workspace, capsys):
    (workspace / "dataset" / "ift" / "more.jsonl").write_text('{"messages": [}\n', encoding="utf-8")
    assert run(workspace, "prepare", "--kind", "ift", "--name", "chat") == 1
    captured = capsys.readouterr()
    assert "more.jsonl:1: not valid JSON" in captured.out
    assert "1 line(s) skipped" in captured.err
    assert (workspace / "data" / "chat" / "train.jsonl").is_file()


def test_binary_files_are_listed_and_exit_0(workspace, capsys):
    """Skipping files that are not text is normal: listed with the reason, exit status 0."""
    (workspace / "dataset" / "core" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert run(workspace, "prepare", "--name", "x", "--target-tokens", "256") == 0
    captured = capsys.readouterr()
    assert "core/photo.png: binary file (.png)" in captured.out
    assert run(workspace, "stats", str(workspace / "dataset" / "core")) == 0
    assert "photo.png: binary file" in capsys.readouterr().err


@pytest.mark.parametrize("case, argv, message", [
    ("missing dataset", ["prepare", "--dataset", "{ws}/nope"], "dataset folder not found"),
    ("empty dataset", ["prepare", "--dataset", "{ws}/configs/empty"], "no usable text files"),
    ("no tokenizer", ["prepare", "--model", "{ws}/models/notok"], "no tokenizer in the model folder"),
    ("unknown model", ["prepare", "--model", "nosuchmodel"], "model folder not found"),
    ("bad ratio", ["prepare", "--mix-ratio", "0"], "mix_ratio 0.0 is out of range"),
    ("ift not json", ["prepare", "--kind", "ift", "--input", "{ws}/configs/bad.jsonl"], "no usable IFT records"),
    ("stats missing", ["stats", "{ws}/nope.txt"], "not found"),
    ("stats no tokenizer", ["stats", "{ws}/dataset/core", "--model", "{ws}/models/notok"], "no tokenizer"),
])
def test_bad_input_gives_one_line_and_exit_2(workspace, capsys, case, argv, message):
    (workspace / "configs" / "empty").mkdir(parents=True)
    (workspace / "configs" / "bad.jsonl").write_text("this is not json\n", encoding="utf-8")
    (workspace / "models" / "notok").mkdir()
    (workspace / "models" / "notok" / "config.json").write_text("{}", encoding="utf-8")
    assert run(workspace, *[a.format(ws=workspace) for a in argv]) == 2
    assert message in one_line_error(capsys.readouterr().err)


def test_non_writable_output_is_a_clear_error(workspace, capsys, monkeypatch):
    (workspace / "blocker").write_text("a file where a folder should be", encoding="utf-8")
    monkeypatch.setenv("FORGELLM_DATA_DIR", str(workspace / "blocker" / "data"))
    assert run(workspace, "prepare", "--target-tokens", "256") == 2
    assert "cannot create folder" in one_line_error(capsys.readouterr().err)


def test_stats_json_and_table(workspace, capsys):
    model = workspace / "models" / "base" / "forge-tiny"
    doc = workspace / "dataset" / "core" / sorted(p.name for p in (workspace / "dataset" / "core").iterdir())[0]
    assert run(workspace, "stats", str(doc), str(workspace / "dataset"), "--model", str(model), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tokenizer"] == "forge-tiny (HF tokenizer)"
    assert data["files"][0]["path"] == str(doc) and data["files"][0]["tokens"] > 0
    assert data["total"]["tokens"] == sum(f["tokens"] for f in data["files"])
    assert run(workspace, "stats", str(workspace / "dataset"), "--model", "forge-tiny") == 0
    table = capsys.readouterr().out
    assert "dataset/core" in table and "total" in table


def test_cli_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "forgellm_tui", "--workspace", str(tmp_path), "prepare",
                           "--model", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "dataset folder not found" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _three_turn_chats(path, count: int = 30) -> None:
    turns = [("What is a bucket?", "Rows sorted by length."), ("And a shard?", "A rank's share of a batch."),
             ("And a pad?", "Zeros after the end of a row.")]
    path.write_text("".join(json.dumps({"messages": [m for q, a in turns for m in (
        {"role": "user", "content": f"{q} {i}"}, {"role": "assistant", "content": a})]}) + "\n"
        for i in range(count)), encoding="utf-8")


def test_prepare_ift_and_stats_report_supervised_tokens(workspace, capsys):
    """Every assistant turn counts: prepare prints the supervised tokens per split file and in total with
    the tokens a cut loses, the manifest keeps them, and stats --json gives the same per-file numbers."""
    chats = workspace / "three.jsonl"
    _three_turn_chats(chats)
    assert run(workspace, "prepare", "--kind", "ift", "--name", "three", "--input", str(chats),
               "--target-tokens", "40", "--test-fraction", "0") == 0
    out = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    manifest = json.loads((workspace / "data" / "three" / "manifest.json").read_text())
    sup = manifest["supervision"]["splits"]
    assert manifest["supervision"]["max_seq_length"] == 40
    train, valid = sup["train"], sup["valid"]
    assert train["rows"] + valid["rows"] == 30 and 0 < train["supervised"] < train["tokens"]
    assert train["lost"] > 0  # three answers do not fit in 40 tokens
    assert f"train.jsonl {train['supervised']:,} of {train['tokens']:,} tokens, {train['lost']:,} lost to truncation" in out
    total = train["supervised"] + valid["supervised"]
    assert any(line.startswith(f"total {total:,} of") for line in out)
    assert run(workspace, "stats", "--json", "--model", "forge-tiny", "--max-seq-length", "40",
               str(chats)) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["files"][0]["supervision"]["supervised"] == total
    assert stats["total"]["supervision"]["lost"] == train["lost"] + valid["lost"]
