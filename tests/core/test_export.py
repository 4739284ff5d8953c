"""Quantize and export real demo models: the quantized model loads and generates, its card's perplexities
equal an independent evaluation, GGUF tensors equal the fused weights, and bad input is refused with one
line, exit status 2 and nothing left behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forgellm_tui import cli
from forgellm_tui.settings import Settings

from publish_helpers import RUN, leftovers

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]
LIMIT = "6"


def _cli(ws, *args) -> int:
    return cli.main(["-w", str(ws), *args])


def test_quantize_a_run_checkpoint_loads_generates_and_its_card_matches_eval(ws, capsys):
    from mlx_lm import generate, load

    from forgellm_tui.core.evaluate import EvalRequest, evaluate

    assert _cli(ws, "quantize", f"models/cpt/{RUN}", "--checkpoint", "8", "--bits", "4", "--limit", LIMIT,
                "--data", "data/cpt-demo") == 0
    out = capsys.readouterr().out
    folder = ws / "published" / f"{RUN}-it8-q4"
    assert f"quantized {RUN}-it8-q4: 4-bit affine g64" in out
    meta = json.loads((folder / "metadata.json").read_text())
    q = meta["quantization"]
    assert (q["bits"], q["group_size"], q["mode"]) == (4, 64, "affine") and meta["checkpoint_iteration"] == 8
    assert json.loads((folder / "config.json").read_text())["quantization"]["bits"] == 4
    assert q["size_after_bytes"] == sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    assert q["size_after_bytes"] < q["size_before_bytes"] / 4  # float32 demo weights → 4 bits + scales
    # an independent evaluation of the published model gives the card's number
    data = ws / "data" / "cpt-demo"
    report = evaluate(EvalRequest(target=folder, data=data, limit=int(LIMIT)), Settings.load(ws))
    assert report.results[0]["perplexity"]["perplexity"] == pytest.approx(q["perplexity_after"], rel=1e-6)
    assert q["perplexity_change_pct"] == pytest.approx((q["perplexity_after"] / q["perplexity_before"] - 1) * 100)
    readme = (folder / "README.md").read_text()
    assert "## Quantization" in readme and f"{q['perplexity_after']:.4f}" in readme and "## Checkpoint" in readme
    assert (folder / "dashboard.png").read_bytes()[:4] == b"\x89PNG"
    model, tok = load(str(folder))
    text = generate(model, tok, prompt="def parse(", max_tokens=8)
    assert isinstance(text, str) and len(tok.encode(text)) > 0
    assert leftovers(ws / "published") == [folder.name]


@pytest.mark.parametrize("args, words", [
    (["--mode", "mxfp4", "--bits", "8"], "--mode mxfp4 needs --bits 4 --group-size 32"),
    (["--mode", "nvfp4", "--group-size", "64"], "--mode nvfp4 needs --bits 4 --group-size 16"),
    (["--bits", "7"], "--bits 7 is not supported"),
    (["--group-size", "16"], "--group-size 16 is not supported"),
    (["--mode", "mxfp8", "--recipe", "mixed_3_6"], "works with --mode affine only"),
    (["--recipe", "mixed_3_6", "--bits", "4"], "does not fit"),
])
def test_unsupported_combinations_are_refused_in_one_line(ws, capsys, args, words):
    assert _cli(ws, "quantize", "forge-tiny", "--data", "data/cpt-demo", *args) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert leftovers(ws / "published") == []


def test_every_combination_the_table_accepts_works_in_mlx(demo_model):
    """The accepted table is what MLX really takes (each quantizes the demo model and runs it)."""
    import contextlib
    import io

    import mlx.core as mx
    from mlx_lm.utils import load, quantize_model

    from forgellm_tui.core.export import AFFINE_BITS, AFFINE_GROUPS, MODE_PAIRS, quant_settings

    combos = [quant_settings(b, g) for b in AFFINE_BITS for g in AFFINE_GROUPS]
    combos += [quant_settings(mode=m) for m in MODE_PAIRS] + [quant_settings(recipe="mixed_3_4")]
    for qs in combos:
        model, _tok, config = load(str(demo_model), return_config=True)
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_model(model, config, qs.group_size, qs.bits, mode=qs.mode)
        out = model(mx.array([[1, 2, 3]]))
        mx.eval(out)
        assert np.isfinite(np.array(out)).all(), qs


def test_already_quantized_name_taken_and_no_data(ws, capsys):
    assert _cli(ws, "quantize", "forge-tiny", "--data", "data/cpt-demo", "--limit", "4", "--name", "q") == 0
    capsys.readouterr()
    assert _cli(ws, "quantize", "published/q", "--data", "data/cpt-demo", "--bits", "8") == 2
    err = capsys.readouterr().err
    assert "already quantized (4-bit affine)" in err and "--dequantize" in err and err.count("\n") == 1
    assert _cli(ws, "quantize", "forge-tiny", "--data", "data/cpt-demo", "--name", "q") == 2
    assert "already exists" in capsys.readouterr().err
    assert _cli(ws, "quantize", "forge-tiny") == 2
    assert "no test data" in capsys.readouterr().err
    assert _cli(ws, "quantize", f"models/cpt/{RUN}") == 2  # its data (cpt-small) has no test split
    assert "no test split" in capsys.readouterr().err
    assert _cli(ws, "quantize", "published/q", "--dequantize", "--bits", "8", "--data", "data/cpt-demo",
                "--limit", "4", "--name", "q8") == 0
    q = json.loads((ws / "published/q8/metadata.json").read_text())["quantization"]
    assert q["bits"] == 8 and q["dequantized_first"] is True
    assert leftovers(ws / "published") == ["q", "q8"]


def test_full_disk_leaves_nothing(ws, mount_tmpfs, monkeypatch, capsys):
    import importlib

    qmod = importlib.import_module("forgellm_tui.core.export.quantize")  # the module, not the face's function

    tiny = mount_tmpfs("2m")
    monkeypatch.setenv("FORGELLM_PUBLISHED_DIR", str(tiny))
    assert _cli(ws, "quantize", "forge-tiny", "--data", "data/cpt-demo", "--limit", "2") == 2
    assert "not enough free disk space" in capsys.readouterr().err  # the check before any work
    monkeypatch.setattr(qmod, "check_free", lambda *_a: None)  # skip the check: the write itself fails
    assert _cli(ws, "quantize", "forge-tiny", "--data", "data/cpt-demo", "--limit", "2") == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err and "nothing was left behind" in err
    assert leftovers(tiny) == []


def _unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """Undo the q/k row permutation mlx-lm applies for llama.cpp's rotary layout."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def test_publish_gguf_tensors_equal_the_fused_weights(ws, capsys):
    import mlx.core as mx
    from gguf import GGUFReader

    assert _cli(ws, "publish", f"models/cpt/{RUN}", "--name", "g", "--format", "gguf", "--system", "Be brief.") == 0
    assert "(with model.gguf and Modelfile)" in capsys.readouterr().out
    folder = ws / "published" / "g"
    fused = {k: np.array(v.astype(mx.float32)) for k, v in mx.load(str(folder / "model.safetensors")).items()}
    config = json.loads((folder / "config.json").read_text())
    reader = GGUFReader(str(folder / "model.gguf"))
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"
    assert len(reader.tensors) == len(fused)
    names = {k.replace("model.layers.", "blk.").replace("self_attn.q_proj", "attn_q")
             .replace("self_attn.k_proj", "attn_k").replace("self_attn.v_proj", "attn_v")
             .replace("self_attn.o_proj", "attn_output").replace("mlp.gate_proj", "ffn_gate")
             .replace("mlp.down_proj", "ffn_down").replace("mlp.up_proj", "ffn_up")
             .replace("post_attention_layernorm", "ffn_norm").replace("input_layernorm", "attn_norm")
             .replace("model.embed_tokens", "token_embd").replace("model.norm", "output_norm"): k for k in fused}
    for tensor in reader.tensors:
        want = fused[names[tensor.name]]
        got = np.array(tensor.data, dtype=np.float32).reshape(want.shape)  # GGUF lists dims reversed
        if "attn_q" in tensor.name or "attn_k" in tensor.name:
            got = _unpermute(got, config["num_attention_heads"])
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)  # fp16 rounding at worst
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model.gguf") and 'SYSTEM """Be brief."""' in modelfile
    assert "ollama create g -f Modelfile" in (folder / "README.md").read_text()
    assert json.loads((folder / "metadata.json").read_text())["gguf"]["template_family"] == "chatml"


def test_gguf_refusals(ws, capsys):
    import shutil

    assert _cli(ws, "quantize", "forge-tiny", "--data", "data/cpt-demo", "--limit", "2", "--name", "q") == 0
    capsys.readouterr()
    assert _cli(ws, "export", "q", "--format", "gguf") == 2
    assert "needs an unquantized model" in capsys.readouterr().err
    other = ws / "published" / "qwen-like"
    shutil.copytree(ws / "models/base/forge-tiny", other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps(dict(config, model_type="qwen2")))
    assert _cli(ws, "export", "qwen-like", "--format", "gguf") == 2
    err = capsys.readouterr().err
    assert "GGUF export supports llama, mistral, mixtral models; this one is 'qwen2'" in err and err.count("\n") == 1
    assert not (other / "model.gguf").exists() and not list(other.glob(".tmp-*"))
    assert _cli(ws, "export", "nope", "--format", "gguf") == 2
    assert "no published model with this name" in capsys.readouterr().err
