"""Token statistics and preparation benchmark (writes bench/results/tokens.json).

1. Token counting over a generated corpus of >= 50 MB: our ``scan_dataset`` (piece-memoised exact
   counting, cache off) vs a naive loop of ``transformers`` ``tokenizer.encode`` per file, same
   tokenizer (the demo model's), side by side; the totals must be equal. Target: ratio >= 5.
   Also: a rescan of the unchanged tree with the cache on.
2. Peak RSS of ``prepare`` (CPT, 511-token chunks) on a >= 500 MB corpus, in a fresh subprocess
   (``ru_maxrss``), next to the same on the 50 MB corpus and the RSS after loading the tokenizer:
   memory must not grow with the corpus. Target: < 1 GB. The child inherits the OpenBLAS
   ``LD_PRELOAD`` the CLI runs with (OpenBLAS alone adds ~100 MB of RSS at start).
3. Cold start: process start to the first frame of ``ForgeApp`` vs ``python -c "import mlx_lm"``
   (``measure_startup``). Target: <= 0.5.
4. First step: wall time from starting ``forgellm-tui train`` to its first optimizer step on a CPT set
   prepared from a 90 MB corpus (> 20 M tokens of the demo tokenizer), with the token ids ``prepare``
   stored vs the same jsonl without them (training tokenizes every row, as before stored ids);
   ``first_step_ratio`` = stored / tokenizing, median of ``--rounds``. Target: <= 0.2.

Corpora are generated once under bench/work/ (paragraphs of the offline demo corpus, shuffled into
many files) and reused. ``--quick`` uses 5 MB / 20 MB corpora and writes tokens-quick.json instead.

Usage: python bench/bench_tokens.py [--quick] [--skip-count] [--skip-prepare] [--skip-startup]
       [--skip-first-step] [--first-step-mb MB] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from forgellm_tui.core.runtime import backend as runtime  # noqa: E402

runtime.maybe_reexec_with_blas()

WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
CORPUS_VERSION = 1


def demo_workspace() -> Path:
    from forgellm_tui.core.demo.builder import build_demo

    folder = WORK / "demo"
    build_demo(folder, progress=lambda line: None)
    return folder


def generate_corpus(name: str, size_mb: int, demo: Path, seed: int = 0) -> Path:
    """``WORK/name/dataset/{core,semantic,episodic,general}/doc-NNNNN.txt`` totalling ``size_mb``."""
    root = WORK / name
    marker = root / "corpus.json"
    wanted = {"version": CORPUS_VERSION, "size_mb": size_mb, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return root / "dataset"
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    paragraphs = []
    for p in sorted((demo / "dataset").rglob("*.txt")):
        paragraphs += [x for x in p.read_text(encoding="utf-8").split("\n\n") if x.strip()]
    rng = random.Random(seed)
    categories = ("core", "semantic", "episodic", "core", "semantic", "episodic", "core", "semantic", "episodic",
                  "general")
    total, k = 0, 0
    while total < size_mb * 1_000_000:
        target = rng.randint(16_000, 400_000)
        parts, size = [], 0
        while size < target:
            para = rng.choice(paragraphs)
            parts.append(para)
            size += len(para) + 2
        text = "\n\n".join(parts) + "\n"
        folder = root / "dataset" / categories[k % len(categories)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc-{k:05d}.txt").write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
        k += 1
    marker.write_text(json.dumps(wanted))
    return root / "dataset"


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.txt"))


# --------------------------------------------------------------------------- 1. counting

def bench_count(dataset: Path, model: Path) -> dict:
    from transformers import AutoTokenizer

    from forgellm_tui.core.datasets import scan_dataset
    from forgellm_tui.core.tokens.stats import TokenCounter

    counter = TokenCounter(model_path=model, strict=True)
    hf = AutoTokenizer.from_pretrained(str(model))
    files = sorted(dataset.rglob("*.txt"))
    size = tree_bytes(dataset)

    t = time.perf_counter()
    scan = scan_dataset(dataset, counter=counter, cache_path=False)
    ours = time.perf_counter() - t
    ours_total = sum(f.tokens for f in scan.files)

    t = time.perf_counter()
    naive_total = sum(len(hf.encode(p.read_text(encoding="utf-8"))) for p in files)
    naive = time.perf_counter() - t

    cache = WORK / "token-cache.json"
    cache.unlink(missing_ok=True)
    scan_dataset(dataset, counter=counter, cache_path=cache)
    t = time.perf_counter()
    again = scan_dataset(dataset, counter=counter, cache_path=cache)
    rescan = time.perf_counter() - t
    cache.unlink(missing_ok=True)

    row = {"corpus_mb": round(size / 1e6, 1), "files": len(files), "tokens": ours_total,
           "naive_tokens": naive_tokens_note(naive_total, ours_total), "ours_seconds": round(ours, 2),
           "naive_seconds": round(naive, 2), "ours_mb_per_s": round(size / 1e6 / ours, 2),
           "naive_mb_per_s": round(size / 1e6 / naive, 2), "count_ratio": round(naive / ours, 2),
           "rescan_seconds": round(rescan, 3), "rescan_cache_hits": again.cache_hits,
           "tokenizer": counter.name, "fast_path": bool(getattr(counter.engine, "fast", False))}
    print(f"  {'':24}{'ours (scan_dataset)':>22}{'naive encode loop':>22}")
    print(f"  {'seconds':24}{ours:>22.2f}{naive:>22.2f}")
    print(f"  {'MB/s':24}{row['ours_mb_per_s']:>22.2f}{row['naive_mb_per_s']:>22.2f}")
    print(f"  {'tokens':24}{ours_total:>22,}{naive_total:>22,}")
    print(f"  count_ratio = {row['count_ratio']:.2f}x (target >= 5); cached rescan {rescan:.3f} s "
          f"({again.cache_hits} cache hits)")
    return row


def naive_tokens_note(naive_total: int, ours_total: int) -> int:
    if naive_total != ours_total:
        print(f"  WARNING: totals differ: naive {naive_total:,} vs ours {ours_total:,}")
    return naive_total


# --------------------------------------------------------------------------- 2. prepare RSS

PREPARE_CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
from forgellm_tui.core.datasets import PrepareOptions, prepare
from forgellm_tui.core.tokens.stats import TokenCounter
TokenCounter(model_path=sys.argv[3], strict=True, like_mlx_lm=True).count("warm up")  # what prepare loads
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
r = prepare(PrepareOptions("cpt", Path(sys.argv[2]), Path(sys.argv[4]), model_path=Path(sys.argv[3]),
                           target_tokens=511, mix_ratio=0.9))
print(json.dumps({"seconds": round(time.perf_counter() - t, 1), "baseline_rss_mb": round(base, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "train_records": r.train_records, "valid_records": r.valid_records,
                  "tokens": r.train_tokens + r.valid_tokens, "general_share": round(r.general_share, 3)}))
"""


def bench_prepare(dataset: Path, model: Path) -> dict:
    out = WORK / f"out-{dataset.parent.name}"
    env = dict(os.environ, FORGELLM_NO_BLAS_PRELOAD="1")  # no MLX here: the preload does not matter
    proc = subprocess.run([sys.executable, "-c", PREPARE_CHILD, str(ROOT), str(dataset), str(model), str(out)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"prepare failed:\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["corpus_mb"] = round(tree_bytes(dataset) / 1e6, 1)
    row["output_mb"] = round(sum(p.stat().st_size for p in out.iterdir()) / 1e6, 1)
    row["mb_per_s"] = round(row["corpus_mb"] / row["seconds"], 2)
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    print(f"  {row['corpus_mb']:>7.1f} MB corpus: peak RSS {row['peak_rss_mb']:.0f} MB (after loading the tokenizer: "
          f"{row['baseline_rss_mb']:.0f} MB), {row['seconds']:.0f} s, {row['train_records']:,} train / "
          f"{row['valid_records']:,} valid records, {row['tokens']:,} tokens")
    return row


# --------------------------------------------------------------------------- 3. startup

STARTUP_CHILD = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from forgellm_tui.core.runtime import backend as runtime
runtime.maybe_reexec_with_blas()
from forgellm_tui.settings import Settings
from forgellm_tui.tui.app import ForgeApp

async def first_frame(pilot):
    # runs once the app is mounted; the callback fires after the next refresh = the first frame
    def painted():
        os.write(1, b"FIRST-FRAME\n")  # Textual captures sys.stdout while it runs
        pilot.app.exit(0)
    pilot.app.call_after_refresh(painted)

ForgeApp(Settings.load(sys.argv[2])).run(headless=True, size=(120, 40), auto_pilot=first_frame)
os._exit(0)
"""


def _wall(cmd: list[str], marker: str | None = None, env=None) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    if marker:
        for line in proc.stdout:
            if marker in line:
                elapsed = time.perf_counter() - t
                break
        else:
            raise RuntimeError(f"{marker} never printed")
        proc.kill()
        proc.wait()
        return elapsed
    proc.communicate()
    return time.perf_counter() - t


def measure_startup(workspace: Path, repeats: int = 5) -> dict | None:
    """Median wall time from spawning the process to ForgeApp's first frame vs ``import mlx_lm``."""
    try:
        import forgellm_tui.tui.app  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the TUI may not exist yet
        print(f"  skipped: cannot import the TUI ({exc})")
        return None
    app, mlx = [], []
    for _ in range(repeats):
        app.append(_wall([sys.executable, "-c", STARTUP_CHILD, str(ROOT), str(workspace)], "FIRST-FRAME"))
        mlx.append(_wall([sys.executable, "-c", "import mlx_lm"]))
    row = {"app_first_frame_s": round(statistics.median(app), 3), "import_mlx_lm_s": round(statistics.median(mlx), 3),
           "app_runs": [round(x, 3) for x in app], "mlx_runs": [round(x, 3) for x in mlx]}
    row["startup_ratio"] = round(row["app_first_frame_s"] / row["import_mlx_lm_s"], 3)
    print(f"  first frame {row['app_first_frame_s']:.2f} s vs import mlx_lm {row['import_mlx_lm_s']:.2f} s: "
          f"startup_ratio = {row['startup_ratio']:.2f} (target <= 0.5)")
    return row


# --------------------------------------------------------------------------- 4. first step

FIRST_STEP_CONFIG = {"model": "models/base/forge-tiny", "max_iterations": 2, "batch_size": 4, "max_seq_length": 512,
                     "steps_per_report": 1, "steps_per_eval": 1000, "val_batches": 0, "save_every": 1000,
                     "learning_rate": 1e-4, "warmup_steps": 0, "lr_schedule": "constant", "seed": 0}
FIRST_STEP_MARKER = "it      1/"


def first_step_workspace(demo: Path, dataset: Path, model: Path) -> tuple[Path, int]:
    """``WORK/first-step``: the prepared set twice, ``data/ids`` (token ids stored by prepare) and
    ``data/noids`` (the same jsonl files, no stored ids: training tokenizes as it always did)."""
    import shutil

    import yaml

    from forgellm_tui.core.datasets import PrepareOptions, prepare, read_manifest

    ws = WORK / "first-step"
    ids, noids = ws / "data" / "ids", ws / "data" / "noids"
    manifest = read_manifest(ids) or {}
    if manifest.get("settings", {}).get("dataset_dir") != str(dataset) or "token_ids" not in manifest:
        shutil.rmtree(ws, ignore_errors=True)
        (ws / "models" / "base").mkdir(parents=True)
        (ws / "models" / "base" / "forge-tiny").symlink_to(model, target_is_directory=True)
        (ws / "configs").mkdir()
        (ws / "configs" / "first-step.yaml").write_text(yaml.safe_dump(FIRST_STEP_CONFIG))
        t = time.perf_counter()
        prepare(PrepareOptions("cpt", dataset, ids, model_path=model, target_tokens=511, mix_ratio=1.0))
        print(f"  prepared {dataset.parent.name} in {time.perf_counter() - t:.0f} s", flush=True)
        shutil.rmtree(noids, ignore_errors=True)
        noids.mkdir(parents=True)
        for name in ("train.jsonl", "valid.jsonl"):
            shutil.copy2(ids / name, noids / name)
        manifest = read_manifest(ids)
        (noids / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "token_ids"}))
    totals = read_manifest(ids)["token_ids"]["splits"]
    return ws, sum(split["tokens"] for split in totals.values())


def bench_first_step(demo: Path, model: Path, size_mb: int, rounds: int) -> dict:
    """Wall time from starting ``forgellm-tui train`` to its first optimizer step (the ``it 1/2`` line),
    on the same prepared set with and without the token ids stored by ``prepare``, alternating."""
    import shutil

    dataset = generate_corpus(f"corpus{size_mb}", size_mb, demo)
    ws, tokens = first_step_workspace(demo, dataset, model)
    if tokens < 20_000_000:
        print(f"  note: the prepared set has {tokens:,} tokens (< 20 M: not the measured size)")
    runs: dict[str, list[float]] = {"ids": [], "noids": []}
    for _ in range(rounds):
        for kind in runs:
            cmd = [sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train",
                   str(ws / "configs" / "first-step.yaml"), "--set", f"data=data/{kind}"]
            runs[kind].append(_wall(cmd, FIRST_STEP_MARKER))
            shutil.rmtree(ws / "models" / "cpt", ignore_errors=True)
            print(f"  {'stored ids' if kind == 'ids' else 'tokenizing':>10}: first step after {runs[kind][-1]:.1f} s",
                  flush=True)
    stored, today = statistics.median(runs["ids"]), statistics.median(runs["noids"])
    row = {"prepared_tokens": tokens, "corpus_mb": round(tree_bytes(dataset) / 1e6, 1),
           "stored_ids_s": round(stored, 2), "tokenizing_s": round(today, 2),
           "stored_runs": [round(x, 2) for x in runs["ids"]], "tokenizing_runs": [round(x, 2) for x in runs["noids"]],
           "first_step_ratio": round(stored / today, 3)}
    print(f"  first step {stored:.1f} s with stored ids vs {today:.1f} s tokenizing ({tokens:,} tokens): "
          f"first_step_ratio = {row['first_step_ratio']:.3f} (target <= 0.2)")
    return row


# --------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small corpora (5/20 MB); writes tokens-quick.json")
    ap.add_argument("--skip-prepare", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--skip-count", action="store_true")
    ap.add_argument("--skip-first-step", action="store_true")
    ap.add_argument("--first-step-mb", type=int, default=100,
                    help="corpus for the first-step measurement (default 100 MB: 22 M tokens of the demo tokenizer)")
    ap.add_argument("--rounds", type=int, default=1, help="first-step rounds (median; default 1)")
    args = ap.parse_args()
    small, big = (5, 20) if args.quick else (50, 500)
    start = time.perf_counter()
    demo = demo_workspace()
    model = demo / "models" / "base" / "forge-tiny"
    print(f"generating corpora ({small} MB and {big} MB, reused when present) …", flush=True)
    corpus_small = generate_corpus(f"corpus{small}", small, demo)
    corpus_big = None if args.skip_prepare else generate_corpus(f"corpus{big}", big, demo)
    out_path = RESULTS / ("tokens-quick.json" if args.quick else "tokens.json")
    old = json.loads(out_path.read_text()) if out_path.exists() else {}
    result = {"device": runtime.device_info() if hasattr(runtime, "device_info") else "", "cpus": os.cpu_count()}

    if not args.skip_count:
        print(f"1. token counting, {small} MB corpus, tokenizer of {model.name}:", flush=True)
        result["count"] = bench_count(corpus_small, model)
        result["count_ratio"] = result["count"]["count_ratio"]
    elif "count_ratio" in old:
        result["count"], result["count_ratio"] = old.get("count"), old["count_ratio"]

    if corpus_big is not None:
        print("2. prepare (CPT, 511-token chunks) peak RSS, fresh subprocess each:", flush=True)
        rows = [bench_prepare(corpus_small, model), bench_prepare(corpus_big, model)]
        result["prepare"] = rows
        result["prepare_peak_rss_mb"] = rows[-1]["peak_rss_mb"]
    elif "prepare_peak_rss_mb" in old:
        result["prepare"], result["prepare_peak_rss_mb"] = old.get("prepare"), old["prepare_peak_rss_mb"]

    startup = None if args.skip_startup else (print("3. cold start:", flush=True) or measure_startup(demo))
    if startup is not None:
        result["startup"], result["startup_ratio"] = startup, startup["startup_ratio"]
    elif "startup_ratio" in old:
        result["startup"], result["startup_ratio"] = old.get("startup"), old["startup_ratio"]
    if not args.skip_first_step:
        print(f"4. first training step with token ids stored by prepare vs tokenizing ({args.first_step_mb} MB "
              f"corpus, {args.rounds} round(s)):", flush=True)
        result["first_step"] = bench_first_step(demo, model, args.first_step_mb, args.rounds)
        result["first_step_ratio"] = result["first_step"]["first_step_ratio"]
    elif "first_step_ratio" in old:
        result["first_step"], result["first_step_ratio"] = old.get("first_step"), old["first_step_ratio"]
    result["total_seconds"] = round(time.perf_counter() - start, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out_path.relative_to(ROOT)} in {result['total_seconds']:.0f} s: count_ratio "
          f"{result.get('count_ratio')}, prepare_peak_rss_mb {result.get('prepare_peak_rss_mb')}, "
          f"startup_ratio {result.get('startup_ratio')}, first_step_ratio {result.get('first_step_ratio')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
