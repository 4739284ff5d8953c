"""Memory estimate benchmark: the estimate against the measured peak (writes bench/results/memory.json).

Each case trains a few real steps in its own process (a clean MLX peak) and reads run.json's
``memory``: ``estimate.total`` (what ``forgellm-tui train --dry-run`` and the run's log show) and
``measured.mlx_peak`` (``mx.get_peak_memory()`` over the run). Cases: the two demo configs as shipped,
and a ~100 M-parameter llama with random weights (built like the demo's forge-tiny, same tokenizer)
trained with LoRA and full fine-tuning, with and without ``grad_checkpoint`` (``--only 100m-lora-512``
adds LoRA on 512-token packed rows). ``estimate_error`` = max over the cases of |estimate - measured| / measured.
Target: <= 0.25.

Usage: python bench/bench_memory.py [--workspace DIR] [--iterations 2] [--only NAME ...] [--jobs N]
``--jobs N`` runs N cases at once (each in its own process, so each peak is still its own).
Without --workspace it builds the offline demo workspace in a temp folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forgellm_tui.core.runtime import backend as runtime  # noqa: E402

runtime.maybe_reexec_with_blas()  # as the app does: MLX's CPU matrix products through OpenBLAS on Linux

BIG = "llama-100m"
#: ~102 M parameters: 12 blocks of hidden 768 (the demo's 4,096-token vocabulary, tied embeddings)
BIG_CONFIG = {"hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 2560, "num_attention_heads": 12,
              "num_key_value_heads": 12}
BIG_RUN = {"model": f"models/base/{BIG}", "data": "data/cpt-demo", "batch_size": 4, "max_seq_length": 128,
           "learning_rate": 1e-4, "lr_schedule": "constant",
           "lora_parameters": {"rank": 16, "scale": 20.0, "dropout": 0.0}}
CASES = {
    "cpt-demo": ("configs/cpt-demo.yaml", {}),
    "ift-demo": ("configs/ift-demo.yaml", {}),
    "100m-lora": (None, dict(BIG_RUN, fine_tune_type="lora")),
    "100m-lora-checkpoint": (None, dict(BIG_RUN, fine_tune_type="lora", grad_checkpoint=True)),
    "100m-full": (None, dict(BIG_RUN, fine_tune_type="full")),
    "100m-full-checkpoint": (None, dict(BIG_RUN, fine_tune_type="full", grad_checkpoint=True)),
}
#: not in the default set (a few minutes more): LoRA on 512-token packed rows, where the attention scores count
EXTRA = {"100m-lora-512": (None, dict(BIG_RUN, fine_tune_type="lora", batch_size=2, max_seq_length=512, packing=True))}
CASES.update(EXTRA)


def build_big_model(workspace: Path) -> Path:
    """A random-weight llama of ~100 M parameters next to forge-tiny, with forge-tiny's tokenizer."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models.llama import Model, ModelArgs

    tiny, out = workspace / "models/base/forge-tiny", workspace / "models/base" / BIG
    if (out / "model.safetensors").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for path in tiny.iterdir():
        if path.is_file() and path.name not in ("model.safetensors", "config.json"):
            shutil.copy(path, out / path.name)
    config = dict(json.loads((tiny / "config.json").read_text()), **BIG_CONFIG)
    mx.random.seed(0)
    model = Model(ModelArgs(**{k: v for k, v in config.items() if k in ModelArgs.__dataclass_fields__}))
    params = dict(tree_flatten(model.parameters()))
    mx.eval(params)
    mx.save_safetensors(str(out / "model.safetensors"), params, metadata={"format": "mlx"})
    (out / "config.json").write_text(json.dumps(config))
    return out


def run_case(workspace: Path, name: str, iterations: int) -> dict:
    """Train the case for ``iterations`` steps here (a child process) and return run.json's memory."""
    import yaml

    from forgellm_tui.core.config.model import from_dict
    from forgellm_tui.core.training import train

    path, over = CASES[name]
    raw = yaml.safe_load((workspace / path).read_text()) if path else {}
    raw.update(over, name=f"bench-memory-{name}", max_iterations=iterations, warmup_steps=0, steps_per_eval=1000,
               val_batches=1, save_every=1000, early_stopping=False)
    tic = time.perf_counter()
    result = train(from_dict(raw, workspace=workspace))
    info = json.loads((result.run_dir / "run.json").read_text())
    shutil.rmtree(result.run_dir, ignore_errors=True)
    memory = info.get("memory") or {}
    return {"status": result.status, "seconds": round(time.perf_counter() - tic, 1), **memory}


def child(workspace: Path, name: str, iterations: int) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--workspace", str(workspace), "--case", name,
                           "--iterations", str(iterations)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{name}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    return summary(name, json.loads(proc.stdout.strip().splitlines()[-1]))


def summary(name: str, case: dict) -> dict:
    estimate, measured = case["estimate"]["total"], case["measured"]["mlx_peak"]
    out = {"estimate_mb": round(estimate / 2**20, 1), "measured_mb": round(measured / 2**20, 1),
           "error": round(abs(estimate - measured) / measured, 4),
           "process_peak_rss_mb": round(case["measured"]["process_peak_rss"] / 2**20, 1),
           "parts_mb": {k: round(case["estimate"][k] / 2**20, 1) for k in
                        ("weights", "trainable", "gradients", "optimizer", "activations", "logits")},
           "rows": case["estimate"]["rows"], "tokens": case["estimate"]["tokens"], "seconds": case["seconds"]}
    print(f"{name:22} estimate {out['estimate_mb']:8.1f} MB  measured {out['measured_mb']:8.1f} MB"
          f"  error {out['error']:.3f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", type=Path)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--only", nargs="*", choices=list(CASES))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--case", help=argparse.SUPPRESS)       # a child: one case, JSON on stdout
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.workspace, args.case, args.iterations)))
        return 0
    from forgellm_tui.core.demo.builder import build_demo

    workspace = args.workspace or Path(tempfile.mkdtemp(prefix="bench-memory-")) / "ws"
    build_demo(workspace)
    build_big_model(workspace)
    names = args.only or [name for name in CASES if name not in EXTRA]
    with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        done = list(pool.map(lambda name: (name, child(workspace, name, args.iterations)), names))
    cases = {name: case for name, case in done if case is not None}
    failed = [name for name, case in done if case is None]   # written too: the error covers only the others
    if not cases:
        return 1
    import mlx.core as mx

    out = {"estimate_error": max(c["error"] for c in cases.values()), "target": 0.25,
           "iterations_per_case": args.iterations, "jobs": args.jobs, "mlx": mx.__version__,
           "backend": "metal" if mx.metal.is_available() else "cpu",
           "cases": cases, "failed": failed}
    target = ROOT / "bench" / "results" / "memory.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    print(f"estimate_error {out['estimate_error']:.3f} (target <= 0.25) -> {target}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
