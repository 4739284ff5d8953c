"""Data-parallel training: 1 vs 2 local ranks (ring backend over 127.0.0.1) and communication time per step.

1. tokens/s of ``forgellm-tui train`` on one process vs ``--hosts 127.0.0.1,127.0.0.1`` (two ranks on
   this machine, same global batch), next to the reference: ``mlx.launch -n 2 -- python -m mlx_lm lora``
   (mlx-lm's own data-parallel training) with the same settings. Ours runs mlx.launch's main() without
   its busy stdin poll (``QUIET_LAUNCH``); "ours, plain mlx.launch" (``FORGELLM_MLX_LAUNCH``) launches
   exactly like the reference, so ours vs mlx-lm compares the training loops.
2. communication per step, measured inside 2 ranks started by mlx.launch: ``average_gradients`` on the
   LoRA gradient tree our step averages (and, for scale, the full-fine-tune tree), plus the one small
   all-sum our loop adds per iteration (loss sums with rank 0's control requests; token counts need
   none: every rank computes them).

Rounds alternate the three runs (median kept) because other processes share the CPU. On a 2-core
machine two ranks share the same cores: expect no gain. Loopback (127.0.0.1) only. Writes
bench/results/distributed.json. Usage: python bench/bench_distributed.py [--iters N] [--repeat N]
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

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "distributed"
RESULTS = ROOT / "bench" / "results" / "distributed.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOCAL2 = "127.0.0.1,127.0.0.1"
SEQ, BATCH, RANK = 128, 4, 8


def config(name: str, iters: int) -> Path:
    import yaml

    raw = {"model": "models/base/forge-tiny", "data": "data/cpt-demo", "name": name, "max_iterations": iters,
           "batch_size": BATCH, "max_seq_length": SEQ, "fine_tune_type": "lora", "num_layers": 4,
           "lora_parameters": {"rank": RANK, "scale": 20.0, "dropout": 0.0}, "optimizer": "adam",
           "learning_rate": 1e-5, "lr_schedule": "constant", "steps_per_report": 10, "steps_per_eval": 100000,
           "val_batches": 1, "save_every": 100000, "early_stopping": False}
    path = WORK / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_ours(ws: Path, name: str, iters: int, hosts: str | None, plain_launcher: bool = False) -> dict:
    import shutil

    from forgellm_tui.core.distributed.hosts import LAUNCHER_VAR
    from forgellm_tui.core.distributed.launch import find_launcher

    shutil.rmtree(ws / "models" / "cpt" / name, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != LAUNCHER_VAR}
    if plain_launcher:
        env[LAUNCHER_VAR] = find_launcher()
    cmd = [sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train", str(config(name, iters))]
    tic = time.perf_counter()
    out = subprocess.run(cmd + (["--hosts", hosts] if hosts else []), capture_output=True, text=True, timeout=1800,
                         env=env)
    wall = time.perf_counter() - tic
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    records = [json.loads(line) for line in (ws / "models" / "cpt" / name / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["training_loss"] is not None and r["tokens_per_second"]]
    tps = [r["tokens_per_second"] for r in train]
    return {"tps": tps, "tokens_per_second": statistics.mean(tps[1:] or tps), "wall_s": round(wall, 2),
            "tokens_per_iteration": train[-1]["trained_tokens"] / train[-1]["iteration"]}


def run_mlx_lm(ws: Path, name: str, iters: int) -> dict:
    from forgellm_tui.core.runtime import backend as runtime
    from forgellm_tui.core.distributed.launch import find_launcher, free_ports

    env = ["--env", "OPENBLAS_NUM_THREADS=1"]
    lib = runtime.find_openblas()
    if lib:
        env += ["--env", f"LD_PRELOAD={lib}"]
    cmd = [find_launcher(), "--hosts", "127.0.0.1", "-n", "2", "--backend", "ring", "--starting-port",
           str(free_ports(2)), *env, "--", sys.executable, "-m", "mlx_lm", "lora", "--model", "models/base/forge-tiny",
           "--train", "--data", "data/cpt-demo", "--fine-tune-type", "lora", "--num-layers", "4", "--batch-size",
           str(BATCH), "--iters", str(iters), "--max-seq-length", str(SEQ), "--steps-per-report", "10",
           "--steps-per-eval", "100000", "--val-batches", "1", "--adapter-path", str(WORK / f"mlx-{name}")]
    tic = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=ws, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - tic
    tps = []
    for line in ANSI.sub("", out.stdout).splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit() and parts[1] != "val":
            tps.append(float(parts[-2].replace(",", "")))
    if not tps:
        raise SystemExit(f"mlx_lm 2-rank run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return {"tps": tps, "tokens_per_second": statistics.mean(tps[1:] or tps), "wall_s": round(wall, 2)}


# --------------------------------------------------------------------------- communication (in each rank)

def comm_child(model_dir: str, reps: int) -> None:
    import mlx.core as mx
    from mlx.nn.utils import average_gradients
    from mlx.utils import tree_flatten, tree_map
    from mlx_lm import load

    from forgellm_tui.core.config.model import from_dict
    from forgellm_tui.core.distributed.group import init_world
    from forgellm_tui.core.training.setup import apply_fine_tune

    world = init_world("ring")
    result = {}
    for kind in ("lora", "full"):
        model, _ = load(model_dir)
        cfg = from_dict({"model": model_dir, "data": "x", "fine_tune_type": kind, "lora_rank": RANK})
        apply_fine_tune(model, cfg)
        grads = tree_map(lambda p: mx.ones_like(p) * (world.rank + 1), model.trainable_parameters())
        params = sum(v.size for _, v in tree_flatten(grads))
        times = []
        for i in range(reps + 5):
            mx.eval(grads)
            tic = time.perf_counter()
            avg = average_gradients(grads, world.group)
            mx.eval(avg)
            if i >= 5:
                times.append(time.perf_counter() - tic)
        result[kind] = {"parameters": params, "megabytes": round(params * 4 / 1e6, 3),
                        "average_gradients_ms": round(statistics.median(times) * 1e3, 3)}
    small = []
    for i in range(reps + 5):
        tic = time.perf_counter()
        world.sum_floats([812.5, 0.0, 0.0, 0.0, 60.0])  # loss sum + control requests (accumulation 1)
        if i >= 5:
            small.append(time.perf_counter() - tic)
    result["small_all_sum_ms"] = round(statistics.median(small) * 1e3, 3)
    if world.is_main:
        print("COMM " + json.dumps(result), flush=True)


def run_comm(ws: Path, reps: int) -> dict:
    from forgellm_tui.core.runtime import backend as runtime
    from forgellm_tui.core.distributed.launch import find_launcher, free_ports

    env = ["--env", "OPENBLAS_NUM_THREADS=1"]
    if runtime.find_openblas():
        env += ["--env", f"LD_PRELOAD={runtime.find_openblas()}"]
    cmd = [find_launcher(), "--hosts", "127.0.0.1", "-n", "2", "--backend", "ring", "--starting-port",
           str(free_ports(2)), *env, "--", sys.executable, str(Path(__file__).resolve()), "--comm-child",
           str(ws / "models" / "base" / "forge-tiny"), str(reps)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("COMM ")]
    if not lines:
        raise SystemExit(f"communication benchmark failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1][5:])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=60, help="iterations per training run")
    ap.add_argument("--repeat", type=int, default=2, help="rounds (1 rank, 2 ranks, mlx-lm 2 ranks); median kept")
    ap.add_argument("--comm-child", nargs=2, metavar=("MODEL", "REPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.comm_child:
        comm_child(args.comm_child[0], int(args.comm_child[1]))
        return 0
    from forgellm_tui.core.demo.builder import build_demo

    WORK.mkdir(parents=True, exist_ok=True)
    ws = WORK / "ws"
    if not (ws / "models" / "base" / "forge-tiny" / "config.json").is_file():
        ws = build_demo(ws).folder
    load_before = os.getloadavg()
    rounds = []
    for r in range(args.repeat):
        one = run_ours(ws, f"one-{r}", args.iters, None)
        two = run_ours(ws, f"two-{r}", args.iters, LOCAL2)
        plain = run_ours(ws, f"plain-{r}", args.iters, LOCAL2, plain_launcher=True)
        ref = run_mlx_lm(ws, f"two-{r}", args.iters)
        rounds.append({"ours_1_rank": one, "ours_2_ranks": two, "ours_2_ranks_plain_launcher": plain,
                       "mlx_lm_2_ranks": ref})
        print(f"round {r + 1}: ours 1 rank {one['tokens_per_second']:,.0f} tok/s | ours 2 ranks "
              f"{two['tokens_per_second']:,.0f} | ours 2 ranks, plain mlx.launch {plain['tokens_per_second']:,.0f} | "
              f"mlx-lm 2 ranks {ref['tokens_per_second']:,.0f}", flush=True)
    comm = run_comm(ws, reps=100)
    med = {k: statistics.median(x[k]["tokens_per_second"] for x in rounds) for k in rounds[0]}
    step_ms = statistics.median(x["ours_2_ranks"]["tokens_per_iteration"] / x["ours_2_ranks"]["tokens_per_second"]
                                for x in rounds) * 1e3
    per_step_comm = comm["lora"]["average_gradients_ms"] + comm["small_all_sum_ms"]
    result = {
        "setup": {"model": "forge-tiny (llama, 4 layers, hidden 256)", "fine_tune": f"lora rank {RANK}, 4 layers",
                  "global_batch": BATCH, "max_seq_length": SEQ, "iterations": args.iters, "rounds": args.repeat,
                  "hosts": LOCAL2, "backend": "ring", "cpu_count": os.cpu_count()},
        "ours_1_rank_tokens_per_second": round(med["ours_1_rank"], 1),
        "ours_2_ranks_tokens_per_second": round(med["ours_2_ranks"], 1),
        "ours_2_ranks_tokens_per_second_per_rank": round(med["ours_2_ranks"] / 2, 1),
        "speedup_2_ranks_vs_1": round(med["ours_2_ranks"] / med["ours_1_rank"], 3),
        "ours_2_ranks_plain_launcher_tokens_per_second": round(med["ours_2_ranks_plain_launcher"], 1),
        "mlx_lm_2_ranks_tokens_per_second": round(med["mlx_lm_2_ranks"], 1),
        "ratio_ours_vs_mlx_lm_2_ranks": round(med["ours_2_ranks"] / med["mlx_lm_2_ranks"], 3),
        "ratio_ours_vs_mlx_lm_2_ranks_same_launcher": round(med["ours_2_ranks_plain_launcher"]
                                                             / med["mlx_lm_2_ranks"], 3),
        "step_ms_2_ranks": round(step_ms, 2),
        "communication": {**comm, "per_step_ms": round(per_step_comm, 3),
                          "share_of_step": round(per_step_comm / step_ms, 4)},
        "rounds": rounds, "load_average_before": load_before, "load_average_after": os.getloadavg(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'':28}{'ours':>12}{'mlx-lm':>12}")
    print(f"{'1 rank tok/s':28}{med['ours_1_rank']:>12,.0f}{'—':>12}")
    print(f"{'2 ranks tok/s (sum)':28}{med['ours_2_ranks']:>12,.0f}{med['mlx_lm_2_ranks']:>12,.0f}")
    print(f"{'  same, plain mlx.launch':28}{med['ours_2_ranks_plain_launcher']:>12,.0f}{med['mlx_lm_2_ranks']:>12,.0f}")
    print(f"{'2 ranks / 1 rank':28}{result['speedup_2_ranks_vs_1']:>12.2f}")
    print(f"communication per step: {per_step_comm:.2f} ms (average_gradients {comm['lora']['average_gradients_ms']} ms "
          f"for {comm['lora']['megabytes']} MB of LoRA gradients + {comm['small_all_sum_ms']} ms loss/control all-sum) "
          f"= {100 * per_step_comm / step_ms:.1f}% of a {step_ms:.0f} ms step; full fine-tune gradients "
          f"({comm['full']['megabytes']} MB): {comm['full']['average_gradients_ms']} ms")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
