"""Quantization benchmark (writes bench/results/export.json): what 4-bit and 8-bit cost and gain.

For the demo model (forge-tiny) and, for scale, a randomly initialised llama of ~100 M parameters built
the same way (the demo tokenizer, ``mlx_lm.models.llama``, float32 weights; built here only):
- ``size_ratio_q4``: weights on disk, 4-bit ÷ unquantized
- ``ppl_change_q4`` / ``ppl_change_q8``: relative test-perplexity change (after ÷ before − 1), measured by
  ``forgellm-tui quantize`` itself (``core.export.quantize``) on the first ``--rows`` test rows of the demo data
- ``decode_ratio_q4``: decode tokens/s of the 4-bit model ÷ the unquantized one, same prompt ids and
  length, greedy, rounds alternating after a warm-up, medians

Random weights make the perplexities themselves meaningless (thousands); the changes still show how
much the quantization moves the model's outputs. Usage: python bench/bench_export.py [--rows 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forgellm_tui.core.runtime import backend as runtime  # noqa: E402

runtime.maybe_reexec_with_blas()

from forgellm_tui.core.demo.builder import build_demo  # noqa: E402
from forgellm_tui.core.export import quant_settings, quantize  # noqa: E402
from forgellm_tui.settings import Settings  # noqa: E402

BIG = {"hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 2304, "num_attention_heads": 12,
       "num_key_value_heads": 12}


def build_big(base: Path, out: Path, seed: int = 0) -> int:
    """A ~100 M-parameter llama with random weights, the demo model's tokenizer and config otherwise."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models.llama import Model, ModelArgs

    out.mkdir(parents=True)
    for f in base.iterdir():
        if f.suffix != ".safetensors" and f.name not in ("config.json", "forge-demo.json"):
            shutil.copy(f, out / f.name)
    config = dict(json.loads((base / "config.json").read_text()), **BIG)
    mx.random.seed(seed)
    model = Model(ModelArgs(**{k: v for k, v in config.items() if k in ModelArgs.__dataclass_fields__}))
    params = dict(tree_flatten(model.parameters()))
    mx.eval(params)
    mx.save_safetensors(str(out / "model.safetensors"), params, metadata={"format": "mlx"})
    (out / "config.json").write_text(json.dumps(config, indent=2))
    return sum(v.size for v in params.values())


def decode_tps(path: Path, ids: list[int], tokens: int) -> float:
    from mlx_lm import load, stream_generate
    from mlx_lm.sample_utils import make_sampler

    model, tok = load(str(path))
    stamps = []
    for _ in stream_generate(model, tok, ids, max_tokens=tokens, sampler=make_sampler(temp=0.0)):
        stamps.append(time.perf_counter())
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def measure(ws: Path, model: Path, rows: int, rounds: int, tokens: int) -> dict:
    settings = Settings.load(ws)
    out = {}
    for bits in (4, 8):
        r = quantize(model, settings, quant_settings(bits), name=f"{model.name}-q{bits}", data="data/cpt-demo",
                     limit=rows)
        q = r.section
        out[f"q{bits}"] = {k: q[k] for k in ("size_before_bytes", "size_after_bytes", "size_ratio", "bits_per_weight",
                                            "perplexity_before", "perplexity_after", "perplexity_change_pct",
                                            "tokens")}
        print(f"  {model.name} q{bits}: {q['size_ratio']:.3f}x size, ppl {q['perplexity_before']:.2f} -> "
              f"{q['perplexity_after']:.2f} ({q['perplexity_change_pct']:+.3f}%)", flush=True)
    from mlx_lm import load

    _, tok = load(str(model))
    ids = tok.encode("def parse_config(path):\n    \"\"\"Read the settings file and return")
    q4 = settings.published_dir / f"{model.name}-q4"
    decode_tps(model, ids, 8), decode_tps(q4, ids, 8)  # warm-up
    full, quant = [], []
    for _ in range(rounds):
        full.append(decode_tps(model, ids, tokens))
        quant.append(decode_tps(q4, ids, tokens))
    out["decode_tps_full"], out["decode_tps_q4"] = statistics.median(full), statistics.median(quant)
    out.update(size_ratio_q4=out["q4"]["size_ratio"], ppl_change_q4=out["q4"]["perplexity_change_pct"] / 100,
               ppl_change_q8=out["q8"]["perplexity_change_pct"] / 100,
               decode_ratio_q4=out["decode_tps_q4"] / out["decode_tps_full"])
    print(f"  {model.name} decode: {out['decode_tps_full']:.1f} -> {out['decode_tps_q4']:.1f} tok/s "
          f"(ratio {out['decode_ratio_q4']:.3f})", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8, help="test rows the perplexity is measured on (default 8)")
    ap.add_argument("--rounds", type=int, default=3, help="decode rounds per model (default 3)")
    ap.add_argument("--tokens", type=int, default=64, help="tokens decoded per round (default 64)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "export.json"))
    args = ap.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        build_demo(ws)
        tiny = ws / "models" / "base" / "forge-tiny"
        big = ws / "models" / "base" / "forge-100m"
        params = build_big(tiny, big)
        print(f"built forge-100m: {params / 1e6:.1f} M parameters", flush=True)
        results = {"demo": measure(ws, tiny, args.rows, args.rounds, args.tokens),
                   "llama_100m": dict(measure(ws, big, args.rows, args.rounds, args.tokens), parameters=params)}
    results.update({k: results["demo"][k] for k in ("size_ratio_q4", "ppl_change_q4", "ppl_change_q8",
                                                    "decode_ratio_q4")})
    results["settings"] = {"rows": args.rows, "rounds": args.rounds, "tokens": args.tokens, "quantization": "affine g64",
                           "cpus": os.cpu_count(), "machine": platform.machine(),
                           "load_average": os.getloadavg()[0], "seconds": round(time.perf_counter() - started, 1)}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: results[k] for k in ("size_ratio_q4", "ppl_change_q4", "ppl_change_q8", "decode_ratio_q4")}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
