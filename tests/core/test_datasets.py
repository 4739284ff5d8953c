"""Dataset scan and preparation on the demo workspace, with the demo model's real tokenizer."""

from __future__ import annotations

import json
import shutil
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from forgellm_tui.core.datasets import PrepareCancelled, PrepareOptions, document_chunks, normalize_text, \
    prepare, read_manifest, read_preview, scan_dataset
from forgellm_tui.core.errors import DataError
from forgellm_tui.core.tokens.stats import TokenCounter

TOKENIZERS = Path(__file__).parents[1] / "fixtures" / "tokenizers"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def cpt(ws: Path, model: Path, name="cpt", **kw) -> tuple:
    options = PrepareOptions("cpt", ws / "dataset", ws / "data" / name, model_path=model, **kw)
    result = prepare(options)
    out = ws / "data" / name
    return result, read_jsonl(out / "train.jsonl"), read_jsonl(out / "valid.jsonl")


def add_bad_files(dataset: Path) -> None:
    (dataset / "core" / "scan.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3 binary")
    (dataset / "core" / "blob.dat").write_bytes(b"abc\x00\x01\x02def")
    (dataset / "core" / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (dataset / "core" / "empty.txt").write_bytes(b"")


# --------------------------------------------------------------------------- chunking

@pytest.mark.parametrize("tokenizer", ["demo", "mistral-7b-instruct-v0.3"])
def test_chunks_fit_the_target_and_give_back_the_document(demo_dir, demo_model, tokenizer):
    from transformers import AutoTokenizer

    folder = demo_model if tokenizer == "demo" else TOKENIZERS / tokenizer
    counter = TokenCounter(model_path=folder, strict=True)
    hf = AutoTokenizer.from_pretrained(str(folder))
    files = sorted((demo_dir / "dataset" / "core").glob("*.txt"))[:6]
    near_full = inner = 0
    for path in files:
        chunks = list(document_chunks(path, counter, 127))
        assert "".join(text for text, _ in chunks) == normalize_text(path.read_text(encoding="utf-8"))
        for text, n in chunks:
            assert n == len(hf.encode(text, add_special_tokens=False)) and 0 < n <= 127
        inner += len(chunks) - 1
        near_full += sum(n >= 124 for _, n in chunks[:-1])
    assert near_full / inner > 0.9  # packing: all but each document's last chunk are (nearly) full


def test_cleaning_normalises_whitespace_and_controls():
    raw = "\ufeff\n\n  \nTitle  \r\n\r\n\r\n\r\nBody\x00 text\x0c\t\n\n\n"
    assert normalize_text(raw) == "Title\n\nBody text\n"


def test_long_document_streams_in_blocks_without_loss(tmp_path, demo_model):
    corpus = sorted((demo_model.parents[2] / "dataset").rglob("*.txt"))
    big = tmp_path / "big.txt"
    big.write_text("".join(p.read_text(encoding="utf-8") for p in corpus[:80]), encoding="utf-8")
    assert big.stat().st_size > 1 << 20  # more than one block
    counter = TokenCounter(model_path=demo_model)
    chunks = list(document_chunks(big, counter, 500))
    assert "".join(t for t, _ in chunks) == normalize_text(big.read_text(encoding="utf-8"))
    assert max(n for _, n in chunks) <= 500
    real = counter.engine.backend.encode_batch([t for t, _ in chunks], add_special_tokens=False)
    assert [n for _, n in chunks] == [len(e.ids) for e in real]  # each count is the chunk's own encode


# --------------------------------------------------------------------------- CPT prepare

def test_cpt_prepare_splits_by_document_and_loses_nothing(workspace):
    model = workspace / "models" / "base" / "forge-tiny"
    result, train, valid = cpt(workspace, model, target_tokens=127, mix_ratio=1.0)
    assert (result.train_records, result.valid_records) == (len(train), len(valid))
    assert valid and train and result.general_records == 0
    rec = train[0]
    assert set(rec) == {"text", "metadata"}
    assert set(rec["metadata"]) == {"source", "chunk_id", "tokens", "processed_at"}
    train_sources = {r["metadata"]["source"] for r in train}
    valid_sources = {r["metadata"]["source"] for r in valid}
    assert not train_sources & valid_sources  # no document on both sides
    assert not any(s.startswith(("dataset/general/", "dataset/ift/")) for s in train_sources | valid_sources)
    by_doc = defaultdict(list)
    for r in train + valid:
        assert r["metadata"]["tokens"] <= 127
        by_doc[r["metadata"]["source"]].append(r)
    for source, records in by_doc.items():
        records.sort(key=lambda r: r["metadata"]["chunk_id"])
        assert [r["metadata"]["chunk_id"] for r in records] == list(range(len(records)))
        raw = (workspace / source).read_text(encoding="utf-8")
        assert "".join(r["text"] for r in records) == normalize_text(raw)
    manifest = read_manifest(workspace / "data" / "cpt")
    assert manifest["totals"]["train_tokens"] == sum(r["metadata"]["tokens"] for r in train)
    assert manifest["chunking"]["max_seq_length_needed"] == 128
    assert len(manifest["sources"]) == len(by_doc)
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])
    assert 0.05 < result.valid_tokens / (result.train_tokens + result.valid_tokens) < 0.15


def test_split_depends_on_the_seed_only(workspace):
    model = workspace / "models" / "base" / "forge-tiny"
    sources = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        _, _, valid = cpt(workspace, model, name=name, seed=seed, target_tokens=256, mix_ratio=1.0)
        sources.append({r["metadata"]["source"] for r in valid})
    assert sources[0] == sources[1] and sources[0] != sources[2]


def test_general_text_is_mixed_at_the_ratio(workspace):
    model = workspace / "models" / "base" / "forge-tiny"
    general = workspace / "dataset" / "general"
    for p in sorted((workspace / "dataset" / "episodic").glob("*.txt")):  # enough general text for 20%
        shutil.copy(p, general / ("g-" + p.name))
    result, train, valid = cpt(workspace, model, target_tokens=256, mix_ratio=0.8)
    general_tokens = sum(r["metadata"]["tokens"] for r in train + valid
                         if r["metadata"]["source"].startswith("dataset/general/"))
    total = sum(r["metadata"]["tokens"] for r in train + valid)
    assert general_tokens == result.general_tokens
    assert general_tokens / total == pytest.approx(0.2, abs=0.01)
    assert not result.warnings
    assert any(r["metadata"]["source"].startswith("dataset/general/") for r in valid)


def test_short_general_folder_is_reported(workspace):
    result, _, _ = cpt(workspace, workspace / "models" / "base" / "forge-tiny", target_tokens=256, mix_ratio=0.5)
    assert any("general text is short" in w for w in result.warnings)


def test_prepared_rows_fit_mlx_lm_max_seq_length(demo_dir, demo_model):
    """The demo data (127-token chunks) becomes rows of <= 128 tokens in mlx-lm: no truncation."""
    import types

    from mlx_lm.tuner.datasets import load_dataset
    from mlx_lm.utils import load_tokenizer

    tok = load_tokenizer(demo_model)
    args = types.SimpleNamespace(data=str(demo_dir / "data" / "cpt-demo"), train=True, test=False,
                                 mask_prompt=False, hf_dataset=None)
    train, valid, _ = load_dataset(args, tok)
    lengths = [len(train.process(train[i])[0]) for i in range(0, len(train), 7)]
    assert max(lengths) <= 128
    assert sum(n >= 125 for n in lengths) / len(lengths) > 0.9  # almost no padding
    assert len(valid) > 0


def test_skipped_files_are_listed_with_reasons(workspace):
    add_bad_files(workspace / "dataset")
    result, train, _ = cpt(workspace, workspace / "models" / "base" / "forge-tiny", target_tokens=256, mix_ratio=1.0)
    reasons = {s.rel: s.reason for s in result.skipped}
    assert "binary file (.pdf)" in reasons["core/scan.pdf"]
    assert "binary content" in reasons["core/blob.dat"]
    assert "not UTF-8" in reasons["core/latin1.txt"]
    assert reasons["core/empty.txt"] == "empty file"
    assert train and not any("latin1" in r["metadata"]["source"] for r in train)


def test_missing_or_empty_dataset_is_a_clear_error(tmp_path, demo_model):
    with pytest.raises(DataError, match="dataset folder not found"):
        prepare(PrepareOptions("cpt", tmp_path / "nope", tmp_path / "out", model_path=demo_model))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no usable text files"):
        prepare(PrepareOptions("cpt", tmp_path / "empty", tmp_path / "out", model_path=demo_model))
    assert not (tmp_path / "out").exists()


def test_cancel_leaves_previous_output_untouched(workspace):
    model = workspace / "models" / "base" / "forge-tiny"
    out = workspace / "data" / "cpt-demo"
    before = (out / "train.jsonl").read_bytes()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(PrepareCancelled):
        prepare(PrepareOptions("cpt", workspace / "dataset", out, model_path=model), cancel=cancel)
    assert (out / "train.jsonl").read_bytes() == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]


# --------------------------------------------------------------------------- scan

def test_scan_counts_per_category_and_caches(workspace):
    model = workspace / "models" / "base" / "forge-tiny"
    dataset = workspace / "dataset"
    (dataset / "notes.md").write_text("A file directly in the dataset folder.\n", encoding="utf-8")
    add_bad_files(dataset)
    progress = []
    scan = scan_dataset(dataset, model_path=model, progress=lambda d, t, rel: progress.append((d, t)))
    totals = scan.totals()
    assert {"core", "episodic", "semantic", "general", "ift", "(root)"} <= set(totals)
    assert totals["(root)"].files == 1
    assert scan.tokenizer_used == "forge-tiny (HF tokenizer)"
    assert sum(t.tokens for t in totals.values()) == sum(f.tokens for f in scan.files)
    core = next(f for f in scan.files if f.rel.startswith("core/"))
    assert core.tokens == TokenCounter(model_path=model).count(core.path.read_text(encoding="utf-8"))
    assert {s.rel for s in scan.skipped} == {"core/scan.pdf", "core/blob.dat", "core/latin1.txt", "core/empty.txt"}
    assert progress[-1][0] == progress[-1][1] and scan.cache_hits == 0

    again = scan_dataset(dataset, model_path=model)
    n = len(scan.files) + len(scan.skipped)
    assert again.cache_hits == n and again.files == scan.files
    (dataset / "notes.md").write_text("Changed: now a longer line of text than before.\n", encoding="utf-8")
    third = scan_dataset(dataset, model_path=model)
    assert third.cache_hits == n - 1
    assert next(f for f in third.files if f.rel == "notes.md").words == 9
    # another tokenizer has its own cache entries
    assert scan_dataset(dataset, model_path=TOKENIZERS / "gpt2-xl").cache_hits == 0


def test_scan_missing_folder_and_cancel(tmp_path, workspace):
    with pytest.raises(DataError, match="not found"):
        scan_dataset(tmp_path / "nope")
    cancel = threading.Event()
    cancel.set()
    scan = scan_dataset(workspace / "dataset", cancel=cancel, cache_path=False)
    assert scan.cancelled and not scan.files


def test_preview_never_raises(tmp_path, demo_dir):
    doc = next((demo_dir / "dataset" / "core").glob("*.txt"))
    text = read_preview(doc, max_chars=200)
    assert text.startswith(doc.read_text(encoding="utf-8")[:100]) and text.endswith("(preview truncated)")
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    (tmp_path / "b.txt").write_bytes(b"\x00\x01bad")  # NUL bytes and no byte-order mark
    (tmp_path / "c.txt").write_bytes("caf\xe9".encode("latin-1"))
    assert "binary file" in read_preview(tmp_path / "a.pdf")
    assert "binary content" in read_preview(tmp_path / "b.txt")
    assert "not UTF-8" in read_preview(tmp_path / "c.txt")
    assert "cannot read" in read_preview(tmp_path / "missing.txt")


# --------------------------------------------------------------------------- IFT

def test_ift_bad_lines_are_reported_by_file_and_line(workspace):
    ift = workspace / "dataset" / "ift"
    good = {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
    lines = [json.dumps(good), "{not json", json.dumps({"prompt": "p"}), "", json.dumps([1, 2]),
             json.dumps({"messages": [{"role": "user", "content": "only a question"}]}),
             json.dumps({"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}),
             json.dumps({"text": "raw text"}), json.dumps({"prompt": "Say hi", "completion": "hi"})]
    (ift / "extra.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ift / "broken.jsonl").write_bytes(b'{"prompt": "caf\xe9", "completion": "x"}\n')
    out = workspace / "data" / "ift"
    result = prepare(PrepareOptions("ift", workspace / "dataset", out, model_path=workspace / "models/base/forge-tiny"))
    found = {(b.path.name, b.line): b.reason for b in result.bad_lines}
    assert found[("extra.jsonl", 2)].startswith("not valid JSON")
    assert found[("extra.jsonl", 3)] == '"completion" is missing'
    assert found[("extra.jsonl", 5)] == "expected a JSON object, got list"
    assert "last message" in found[("extra.jsonl", 6)]
    assert "'robot'" in found[("extra.jsonl", 7)]
    assert "CPT data" in found[("extra.jsonl", 8)]
    assert "not UTF-8" in found[("broken.jsonl", 1)]
    assert result.bad_line_count == 7 and len(found) == 7
    rows = read_jsonl(out / "train.jsonl") + read_jsonl(out / "valid.jsonl")
    demo_rows = len((ift / "stdlib_qa.jsonl").read_text(encoding="utf-8").splitlines())
    assert len(rows) == demo_rows + 2
    assert all(set(r) == {"messages"} for r in rows)  # mixed formats: prompt/completion became messages
    assert {"role": "user", "content": "Say hi"} in [m for r in rows for m in r["messages"]]
    assert any("written as user/assistant" in w for w in result.warnings)


def test_ift_split_is_by_conversation(demo_dir):
    out = demo_dir / "data" / "ift-demo"
    train = {json.dumps(r, sort_keys=True) for r in read_jsonl(out / "train.jsonl")}
    valid = {json.dumps(r, sort_keys=True) for r in read_jsonl(out / "valid.jsonl")}
    assert train and valid and not train & valid
    assert 0.05 < len(valid) / (len(train) + len(valid)) < 0.15
    assert read_manifest(out)["record_format"] == "messages"


def test_ift_with_no_good_line_keeps_old_output(workspace):
    out = workspace / "data" / "ift-demo"
    before = (out / "train.jsonl").read_bytes()
    bad = workspace / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match="no usable IFT records") as err:
        prepare(PrepareOptions("ift", workspace / "dataset", out, ift_input=bad))
    assert "line 1" in str(err.value) and "bad.jsonl" in str(err.value)
    assert (out / "train.jsonl").read_bytes() == before
