"""The offline demo workspace: real corpus, tokenizer, tiny model that mlx_lm loads and runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from forgellm_tui.core.demo.builder import MODEL_NAME, build_demo, tree_digest


def test_corpus_has_categories_general_and_ift(demo_dir):
    dataset = demo_dir / "dataset"
    cats = {p.name for p in dataset.iterdir() if p.is_dir()}
    assert {"core", "semantic", "episodic", "general", "ift"} <= cats
    size = sum(p.stat().st_size for p in dataset.rglob("*.txt"))
    assert 2e6 < size < 20e6, size  # a few MB of real text
    json_doc = next(dataset.rglob("json.txt")).read_text()
    assert "dumps" in json_doc and "JSON" in json_doc
    qa = [json.loads(line) for line in (dataset / "ift" / "stdlib_qa.jsonl").read_text().splitlines()]
    assert len(qa) > 500
    roles = [m["role"] for m in qa[0]["messages"]]
    assert roles == ["user", "assistant"]
    assert any(r["messages"][0]["content"] == "What does json.dumps do?" for r in qa)


def test_tokenizer_round_trips_and_has_chatml_template(demo_model):
    from mlx_lm import load

    model, tok = load(str(demo_model))
    text = "json.dumps(obj) serializes ``obj`` to a JSON formatted str.\nÜnïcode ✓"
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.get_vocab()) == 4096
    rendered = tok.apply_chat_template([{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": "hi"}],
                                       add_generation_prompt=True, tokenize=False)
    assert rendered == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.has_chat_template


def test_model_loads_and_generates_with_mlx_lm(demo_model):
    from mlx_lm import generate, load

    model, tok = load(str(demo_model))
    config = json.loads((demo_model / "config.json").read_text())
    assert config["model_type"] == "llama"
    n_params = sum(v.size for _, v in __import__("mlx.utils", fromlist=["tree_flatten"]).tree_flatten(model.parameters()))
    assert 1e6 < n_params < 20e6
    out = generate(model, tok, "The json module", max_tokens=8)
    assert isinstance(out, str) and len(tok.encode(out)) >= 1


def test_mlx_lm_generate_cli_runs_on_demo_model(demo_model):
    out = subprocess.run([sys.executable, "-m", "mlx_lm", "generate", "--model", str(demo_model),
                          "--prompt", "hello", "--max-tokens", "5"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-600:]
    assert "Generation:" in out.stdout or "tokens-per-sec" in out.stdout


def test_build_is_deterministic_and_rerun_is_safe(demo_dir, tmp_path):
    start = time.perf_counter()
    again = build_demo(tmp_path / "again", prepare=False)
    assert time.perf_counter() - start < 60
    patterns = ("dataset/**/*", "models/base/**/*")
    assert tree_digest(again.folder, patterns) == tree_digest(demo_dir, patterns)
    # Rerunning on an existing folder keeps what is there and changes nothing.
    model_file = again.model_dir / "model.safetensors"
    mtime = model_file.stat().st_mtime_ns
    build_demo(again.folder, prepare=False)
    assert model_file.stat().st_mtime_ns == mtime
    assert tree_digest(again.folder, patterns) == tree_digest(demo_dir, patterns)
    assert (again.folder / "models" / "base" / MODEL_NAME / "forge-demo.json").exists()
