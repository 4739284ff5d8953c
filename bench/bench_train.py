"""Training throughput: our engine vs ``python -m mlx_lm lora``, side by side on the demo model.

1. ratio_vs_mlx_lm   - tokens/s, same data (data/cpt-demo), same settings, same BLAS (target >= 1.0)
2. packed_ratio      - loss-bearing tokens/s on variable-length raw paragraphs: our packed rows vs
                       mlx-lm fed one paragraph per line (target >= 1.25)
3. linux_blas_ratio  - our Linux default (OpenBLAS preload) vs stock mlx-lm without it (target >= 15)
4. roofline_fraction - achieved training FLOP/s / sgemm peak of the best correct OpenBLAS kernel set
                       on this machine (what the hardware can do, not what OpenBLAS happens to detect)
5. coretype_ratio    - our training tokens/s with the kernel set the app chooses (``blas_core``) / with
                       the one OpenBLAS detects by itself (1.0 by definition when they are the same;
                       ``--baseline-core NAME`` compares against a named set instead, e.g. Prescott)

Each run is a fresh subprocess; tokens/s is the mean of the report windows after the first (which
includes compilation). 1 and 2 run ours and mlx-lm at the same time, so load from other processes
hits both equally (each gets about half the CPU: compare the ratio, not the absolute numbers); 3 and 4
run alone. Writes bench/results/train.json.
Usage: python bench/bench_train.py [--quick] [--repeat N] [--baseline-core NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_io import load_average, write_results

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "train"
RESULTS = ROOT / "bench" / "results" / "train.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BLAS_VARS = ("LD_PRELOAD", "FORGELLM_BLAS_REEXEC", "OPENBLAS_CORETYPE", "FORGELLM_BLAS_DETECTED")
#: the OpenBLAS kernel set every OpenBLAS run uses: the app's choice (None: what OpenBLAS detects)
CORE: dict[str, str | None] = {"name": None}


def env(blas: bool, core: str | None | bool = True) -> dict:
    """Children's environment. ``core``: True = the app's kernel choice, None = OpenBLAS's own, or a name."""
    from forgellm_tui.core.runtime import backend as runtime

    base = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    base.update(TOKENIZERS_PARALLELISM="true", TRANSFORMERS_VERBOSITY="error", FORGELLM_NO_BLAS_PRELOAD="1")
    if blas:
        lib = runtime.find_openblas()
        if lib is None:
            raise SystemExit("OpenBLAS (libopenblas0-pthread) is not installed: cannot measure")
        base["LD_PRELOAD"] = lib
        core = CORE["name"] if core is True else core
        if core:
            base["OPENBLAS_CORETYPE"] = core
    return base


def steady(values: list[float]) -> float:
    rest = values[1:] or values
    return statistics.mean(rest)


# --------------------------------------------------------------------------- children

def child_ours(config: str, workspace: str) -> None:
    """Train with our engine; print one JSON line with the tokens/s of every report window."""
    from forgellm_tui.core import events as ev
    from forgellm_tui.core.runtime import backend as runtime
    from forgellm_tui.core.config.model import load_config
    from forgellm_tui.core.training.engine import train
    from forgellm_tui.settings import Settings

    tps: list[float] = []
    started: list = []

    def on_event(event):
        if isinstance(event, ev.Metrics) and event.training_loss is not None and event.tokens_per_second:
            tps.append(event.tokens_per_second)
        if isinstance(event, ev.RunStarted):
            started.append(event)

    tic = time.perf_counter()
    result = train(load_config(config, settings=Settings.load(workspace)), on_event)
    wall = time.perf_counter() - tic
    print(json.dumps({"tps": tps, "status": result.status, "wall": wall, "blas_core": runtime.openblas_core(),
                      "trained_tokens": result.trained_tokens, "train_tokens": started[0].train_tokens}))


def child_sgemm() -> None:
    """Print the kernel set this process's OpenBLAS runs and its sgemm peak through MLX (one JSON line)."""
    import mlx.core as mx

    from forgellm_tui.core.runtime import backend as runtime

    print(json.dumps({"core": runtime.openblas_core(), "gflops": sgemm_peak(mx)}))


def sgemm_peak(mx) -> float:
    """Best float32 matmul GFLOP/s over a few sizes."""
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = mx.random.normal((n, n)), mx.random.normal((n, n))
        mx.eval(a, b, a @ b)
        reps = max(2, int(2e10 // (2 * n**3)))
        tic = time.perf_counter()
        for _ in range(reps):
            mx.eval(a @ b)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - tic) / 1e9)
    return best


# --------------------------------------------------------------------------- runs

def _spawn(cmd: list[str], blas: bool, cwd: Path, tag: str, core: str | None | bool = True):
    out = open(WORK / f"{tag}.out", "w+")
    err = open(WORK / f"{tag}.err", "w+")
    return subprocess.Popen(cmd, env=env(blas, core), cwd=cwd, stdout=out, stderr=err, text=True), out, err


def _finish(job, timeout: float = 1800) -> tuple[int, str, str]:
    proc, out, err = job
    proc.wait(timeout)
    out.seek(0)
    err.seek(0)
    return proc.returncode, out.read(), err.read()


def start_ours(ws: Path, name: str, data: str, iters: int, seq: int, packing: bool = False,
               core: str | None | bool = True):
    import shutil

    import yaml

    config = {"model": "models/base/forge-tiny", "data": data, "name": name, "max_iterations": iters,
              "batch_size": 4, "max_seq_length": seq, "fine_tune_type": "lora", "num_layers": 4,
              "lora_parameters": {"rank": 8, "scale": 20.0, "dropout": 0.0}, "optimizer": "adam",
              "learning_rate": 1e-5, "lr_schedule": "constant", "steps_per_report": 10, "steps_per_eval": 100000,
              "val_batches": 1, "save_every": 100000, "packing": packing, "early_stopping": False}
    path = WORK / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    shutil.rmtree(ws / "models" / "cpt" / name, ignore_errors=True)
    return _spawn([sys.executable, __file__, "--child", str(path), str(ws)], True, ws, name, core)


def finish_ours(job, name: str) -> dict:
    rc, out, err = _finish(job)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if rc or not lines:
        raise SystemExit(f"our run {name} failed:\n{err[-3000:]}")
    data = json.loads(lines[-1])
    data["tokens_per_second"] = steady(data["tps"])
    return data


def start_mlx_lm(ws: Path, name: str, data: str, iters: int, seq: int, blas: bool = True, report: int = 10):
    cmd = [sys.executable, "-m", "mlx_lm", "lora", "--model", "models/base/forge-tiny", "--train", "--data", data,
           "--fine-tune-type", "lora", "--num-layers", "4", "--batch-size", "4", "--iters", str(iters),
           "--max-seq-length", str(seq), "--steps-per-report", str(report), "--steps-per-eval", "100000",
           "--val-batches", "1", "--adapter-path", str(WORK / f"mlx-{name}")]
    return _spawn(cmd, blas, ws, f"mlx-{name}")


def finish_mlx_lm(job, name: str) -> dict:
    rc, out, err = _finish(job)
    tps = []
    for line in ANSI.sub("", out).splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit() and parts[1] != "val":
            tps.append(float(parts[-2].replace(",", "")))
    if rc or not tps:
        raise SystemExit(f"mlx_lm run {name} failed:\n{out[-2000:]}\n{err[-2000:]}")
    return {"tps": tps, "tokens_per_second": steady(tps)}


def pair(ws: Path, name: str, data: str, iters: int, seq: int, packing: bool = False) -> tuple[dict, dict]:
    """Ours and mlx_lm at the same time: both see the same load from anything else on the machine."""
    a = start_ours(ws, f"bench-{name}", data, iters, seq, packing)
    b = start_mlx_lm(ws, name, data, iters, seq)
    return finish_ours(a, name), finish_mlx_lm(b, name)


def raw_paragraphs(ws: Path, rows: int = 3000) -> str:
    """Variable-length raw documents: the demo corpus's paragraphs, one per line, as a user might write them."""
    out = ws / "data" / "raw-paragraphs"
    if not (out / "train.jsonl").exists():
        out.mkdir(parents=True, exist_ok=True)
        paras = []
        for path in sorted((ws / "dataset").rglob("*.txt")):
            paras += [p for p in re.split(r"\n\s*\n", path.read_text()) if len(p.strip()) > 20]
        lines = [json.dumps({"text": p}) for p in paras[: rows + 50]]
        (out / "train.jsonl").write_text("\n".join(lines[:rows]) + "\n")
        (out / "valid.jsonl").write_text("\n".join(lines[rows:]) + "\n")
    return "data/raw-paragraphs"


def flops_per_token(model_dir: Path, seq: int, trainable_share: float = 0.0) -> float:
    """Training FLOPs per processed token: forward + backward (activation grads; LoRA weights are tiny)."""
    cfg = json.loads((model_dir / "config.json").read_text())
    h, i, layers, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    kv = h * cfg.get("num_key_value_heads", cfg["num_attention_heads"]) // cfg["num_attention_heads"]
    per_layer = 2 * (2 * h * h + 2 * h * kv + 3 * h * i) + 4 * (seq - 1) * h
    forward = layers * per_layer + 2 * h * vocab
    return 2 * forward


# --------------------------------------------------------------------------- OpenBLAS kernel sets

def kernel_sets() -> tuple[str, str]:
    """``(the set the app runs, the set OpenBLAS detects)``; fixes ``CORE`` for every OpenBLAS child."""
    from forgellm_tui.core.runtime import blas_cores
    from forgellm_tui.core.runtime import backend as runtime

    lib = runtime.find_openblas()
    clean = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    detected = blas_cores.probe(lib, clean).get("core") or "unknown"
    if "OPENBLAS_CORETYPE" in os.environ:  # the app leaves a preset one alone: so do we
        CORE["name"] = os.environ["OPENBLAS_CORETYPE"]
    else:
        CORE["name"] = blas_cores.kernel_choice(lib, clean)[0]
    return CORE["name"] or detected, detected


def peak_candidates() -> list[str | None]:
    """Kernel sets worth timing on this CPU: OpenBLAS's own (None) and every one its flags allow."""
    from forgellm_tui.core.runtime import blas_cores

    best = blas_cores.best_core(blas_cores.read_cpuinfo() or blas_cores.CpuInfo("", "", "", "", frozenset()))
    named = {"SkylakeX": ["SkylakeX", "Cooperlake", "SapphireRapids", "Haswell"], "Zen": ["Zen", "Haswell"],
             "Haswell": ["Haswell"]}.get(best or "", [])
    return [None, *named]


def best_sgemm_peak(ws: Path) -> tuple[float, str, dict]:
    """sgemm GFLOP/s through MLX per kernel set (only sets that pass the correctness check): the best."""
    from forgellm_tui.core.runtime import blas_cores
    from forgellm_tui.core.runtime import backend as runtime

    peaks: dict[str, float] = {}
    for core in peak_candidates():
        check = blas_cores.probe(runtime.find_openblas(), env(False), core)
        name = check.get("core")
        if not name or name in peaks or not (check.get("error") is not None and check["error"] <= 1.0):
            continue  # OpenBLAS fell back to a set already timed, or the set computes wrong results here
        rc, out, err = _finish(_spawn([sys.executable, __file__, "--sgemm"], True, ws, f"sgemm-{name}", core))
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if rc or not lines:
            raise SystemExit(f"sgemm run with {name} failed:\n{err[-2000:]}")
        peaks[name] = json.loads(lines[-1])["gflops"]
        print(f"   sgemm peak with {name} kernels: {peaks[name]:.1f} GFLOP/s")
    core = max(peaks, key=peaks.get)
    return peaks[core], core, peaks


def solo_runs(ws: Path, iters: int, baseline: str | None | bool) -> tuple[list[dict], list[dict]]:
    """Three solo runs with the app's kernel set, each followed by one with ``baseline`` (False: none)."""
    solos, base = [], []  # a solo run swings by ±20% between runs on this box: the median of three
    for k in range(3):
        solos.append(finish_ours(start_ours(ws, "bench-solo", "data/cpt-demo", iters, 128), "solo"))
        line = f"   ours solo run {k + 1}: {solos[-1]['tokens_per_second']:,.0f} tok/s ({solos[-1]['blas_core']})"
        if baseline is not False:
            base.append(finish_ours(start_ours(ws, "bench-base", "data/cpt-demo", iters, 128, core=baseline),
                                    "baseline"))
            line += f"; baseline {base[-1]['tokens_per_second']:,.0f} tok/s ({base[-1]['blas_core']})"
        print(line)
    return solos, base


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda run: run["tokens_per_second"])[len(runs) // 2]


def measure_vs_mlx_lm(ws: Path, iters: int, repeat: int) -> tuple[float, list[tuple[float, float]]]:
    """Measurement 1: the median of ``repeat`` concurrent rounds, ours vs mlx_lm."""
    print("1. our engine vs python -m mlx_lm lora (cpt-demo, lora r8, 4 layers, batch 4, seq 128, OpenBLAS),")
    print("   run at the same time so both see the same CPU load")
    rounds = []
    for k in range(repeat):
        ours, ref = pair(ws, f"r{k}", "data/cpt-demo", iters, 128)
        rounds.append((ours["tokens_per_second"], ref["tokens_per_second"]))
        print(f"   round {k + 1}: ours {rounds[-1][0]:,.0f} tok/s   mlx_lm {rounds[-1][1]:,.0f} tok/s   "
              f"ratio {rounds[-1][0] / rounds[-1][1]:.2f}")
    ratio = statistics.median(o / r for o, r in rounds)
    print(f"   median ratio {ratio:.2f} (target >= 1.0)")
    return ratio, rounds


def measure_packing(ws: Path, iters: int) -> tuple[dict, dict, float]:
    """Measurement 2: loss-bearing tokens/s, our packed rows vs mlx_lm one paragraph per line."""
    print("2. loss-bearing tokens/s on raw paragraphs (seq 256): our packing vs one paragraph per line in mlx_lm")
    packed, unpacked = pair(ws, "raw", raw_paragraphs(ws), iters, 256, packing=True)
    packed_ratio = packed["tokens_per_second"] / unpacked["tokens_per_second"]
    print(f"   ours packed {packed['tokens_per_second']:,.0f}  mlx_lm per line {unpacked['tokens_per_second']:,.0f}  "
          f"ratio {packed_ratio:.2f} (target >= 1.25)")
    return packed, unpacked, packed_ratio


def measure_kernels(ws: Path, solo: dict, bases: list[dict], blas_core: str, baseline: str) -> dict:
    """Measurements 4 (roofline against the best kernel set's sgemm peak) and 5 (``coretype_ratio``)."""
    print("4. achieved training FLOP/s (our median solo run) vs the sgemm peak of the best OpenBLAS kernel set")
    peak, peak_core, peaks = best_sgemm_peak(ws)
    fpt = flops_per_token(ws / "models" / "base" / "forge-tiny", 128)
    achieved = solo["tokens_per_second"] * fpt / 1e9
    print(f"   {fpt / 1e6:.1f} MFLOP/token x {solo['tokens_per_second']:,.0f} tok/s = {achieved:.1f} GFLOP/s; "
          f"sgemm peak {peak:.1f} GFLOP/s ({peak_core}); fraction {achieved / peak:.2f}")

    print(f"5. training tokens/s with the app's kernel set ({blas_core}) vs {baseline}")
    base_tps = median_run(bases)["tokens_per_second"] if bases else None
    ratio = solo["tokens_per_second"] / base_tps if base_tps else 1.0
    print(f"   ratio {ratio:.2f}" + (f" (median {solo['tokens_per_second']:,.0f} vs {base_tps:,.0f} tok/s)"
                                    if base_tps else " (the same kernel set: nothing to compare)"))
    return {"roofline_fraction": round(achieved / peak, 3), "blas_core": blas_core,
            "coretype_ratio": round(ratio, 3), "coretype_baseline": baseline,
            "baseline_solo_runs": [round(run["tokens_per_second"], 1) for run in bases],
            "achieved_gflops": round(achieved, 2), "sgemm_peak_gflops": round(peak, 2), "sgemm_peak_core": peak_core,
            "sgemm_peaks": {name: round(value, 2) for name, value in peaks.items()}, "flops_per_token": fpt}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2, metavar=("CONFIG", "WORKSPACE"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (noisier)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of measurement 1 (the median ratio is kept)")
    ap.add_argument("--baseline-core", metavar="NAME",
                    help="measurement 5 against this OpenBLAS kernel set instead of the detected one (e.g. Prescott)")
    ap.add_argument("--sgemm", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_ours(*args.child)
        return 0
    if args.sgemm:
        child_sgemm()
        return 0
    from forgellm_tui.core.demo.builder import build_demo
    from forgellm_tui.core.runtime import backend as runtime

    WORK.mkdir(parents=True, exist_ok=True)
    ws = build_demo(WORK / "ws").folder
    iters = 30 if args.quick else 60
    blas_core, detected = kernel_sets()
    baseline = args.baseline_core or detected
    print(f"demo workspace: {ws}; cores: {os.cpu_count()}; BLAS: {runtime.find_openblas()}; "
          f"kernel set: {blas_core} (OpenBLAS detects {detected})")

    load_before = os.getloadavg()
    ratio, rounds = measure_vs_mlx_lm(ws, iters, args.repeat)
    packed, unpacked, packed_ratio = measure_packing(ws, iters)

    print("3. our Linux default (OpenBLAS preload) vs stock mlx_lm without it (reference BLAS), one after the other")
    same = baseline.lower() == blas_core.lower()
    if not same:
        print(f"   (each solo run is followed by one with the {baseline} kernels for measurement 5)")
    solos, bases = solo_runs(ws, iters, False if same else (None if baseline == detected else baseline))
    solo = median_run(solos)
    stock = finish_mlx_lm(start_mlx_lm(ws, "noblas", "data/cpt-demo", 12, 128, blas=False, report=4), "noblas")
    blas_ratio = solo["tokens_per_second"] / stock["tokens_per_second"]
    print(f"   ours (median) {solo['tokens_per_second']:,.0f}  stock mlx_lm {stock['tokens_per_second']:,.0f}  "
          f"ratio {blas_ratio:.1f} (target >= 15)")

    kernels = measure_kernels(ws, solo, bases, blas_core, baseline)
    kernels["coretype_baseline"] += " (named by --baseline-core)" if args.baseline_core else " (detected by OpenBLAS)"

    result = {
        "ratio_vs_mlx_lm": round(ratio, 3), "packed_ratio": round(packed_ratio, 3),
        "linux_blas_ratio": round(blas_ratio, 2), **kernels,
        "rounds_concurrent": [{"ours": round(o, 1), "mlx_lm": round(r, 1)} for o, r in rounds],
        "ours_solo_tokens_per_second": round(solo["tokens_per_second"], 1),
        "ours_solo_runs": [round(run["tokens_per_second"], 1) for run in solos],
        "packed_tokens_per_second": round(packed["tokens_per_second"], 1),
        "unpacked_mlx_lm_tokens_per_second": round(unpacked["tokens_per_second"], 1),
        "stock_no_blas_tokens_per_second": round(stock["tokens_per_second"], 1),
        "settings": {"model": "forge-tiny (llama, 4 layers, hidden 256)", "batch_size": 4, "iterations": iters,
                     "fine_tune_type": "lora", "rank": 8, "cores": os.cpu_count(), "blas": runtime.find_openblas()},
        "load_average": load_average(load_before),
        "notes": "tokens/s = mean of report windows after the first (compile). Measurements 1-2 run ours and "
                 "mlx_lm concurrently (same CPU load, each gets about half); 3-5 run alone. Other processes "
                 "on the machine change absolute numbers: see load_average. coretype_ratio is 1.0 by "
                 "definition when OpenBLAS detects the kernel set the app would choose (no runs).",
    }
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
