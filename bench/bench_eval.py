"""Evaluation speed: ``forgellm-tui eval`` vs ``python -m mlx_lm lora --test``, and what sampling costs training.

1. eval_ratio             - test-perplexity tokens/s of one checkpoint: ``forgellm-tui eval RUN --checkpoint ITER``
                            vs ``python -m mlx_lm lora --test --adapter-path CKPT --test-batches -1``, same adapter,
                            same test file, batch 8, both commands started at the same time (same CPU load);
                            the median of the rounds (target >= 1.0). Both perplexities are reported with their
                            relative difference, which must stay below 1e-3.
2. multi_checkpoint_ratio - wall time of six separate ``mlx_lm lora --test`` runs (five checkpoints + the base
                            model, one after the other) / one ``forgellm-tui eval RUN --checkpoint all``, which
                            loads the model once and swaps only the adapter weights; the median of the rounds
                            (target >= 2.0)
3. sample_overhead        - training tokens/s of the demo CPT config with ``sample_prompts`` on / off, one run
                            after the other, median of three rounds (target >= 0.95). Null (and said so) when
                            this build's config does not know the sampling keys yet.

How the two perplexities are made comparable (1.): mlx-lm's ``--test`` sorts the rows by length, cuts
them into batches of ``--batch-size`` and DROPS the last incomplete batch, TRUNCATES rows longer than
``--max-seq-length``, appends EOS to each text row, and its loss (``default_loss``) also scores the
first padding position after every row shorter than the batch's padded width (mask ``steps <= length``)
- a target that is not in the data. Its loss is token-weighted (each batch's mean times its token count,
summed, divided by all tokens), as ours is. Ours scores every row (cut at ``max_seq_length`` as in
training) and no padding target (mask ``steps < length``), also token-weighted. So the benchmark feeds both the same inputs on which the two
definitions coincide: text rows of the demo's test split that encode to exactly ``max_seq_length - 1``
tokens (+ EOS = 128: no truncation, and the padded width is capped at 128, so no padding target), a
multiple of the batch size of them (nothing dropped). Tokens/s counts every token a command scores
over the wall time of the whole command (start-up and model load included): ours scores the base model
and the checkpoint (what ``eval`` always does), mlx-lm the checkpoint only.

Each measured command is a fresh subprocess. Writes bench/results/eval.json.
Usage: python bench/bench_eval.py [--quick] [--repeat N] [--keep-run] [--sampling-only | --skip-sampling]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import processes
from processes import finish, wait
from results_io import load_average, write_results

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "eval"
RESULTS = ROOT / "bench" / "results" / "eval.json"
BATCH = 8
SEQ = 128
#: The demo CPT config's sampling: its two prompts, 48 tokens, at every validation (``sample_every`` unset).
SAMPLING = {"sample_prompts": ["def read_file(", "The json module"], "sample_max_tokens": 48}
#: The demo CPT config validates (and so samples) every 25 steps; the sampling runs keep that cadence.
DEMO_EVAL_EVERY = 25


def env() -> dict:
    """Children run as a user would: the app's own BLAS choice for ours and the same preload for mlx-lm."""
    from forgellm_tui.core.runtime import backend as runtime

    base = dict(os.environ, TOKENIZERS_PARALLELISM="true", TRANSFORMERS_VERBOSITY="error",
                FORGELLM_NO_BLAS_PRELOAD="1", PYTHONPATH=str(ROOT))
    lib = runtime.find_openblas()
    if lib:
        base["LD_PRELOAD"] = lib
    return base


def spawn(cmd: list[str], cwd: Path, tag: str) -> dict:
    return processes.spawn(cmd, cwd, WORK, tag, env())


# --------------------------------------------------------------------------- set-up

def child_train(config: str, workspace: str) -> None:
    """Train with our engine; one JSON line: run folder, trained tokens, wall time of the training call."""
    from forgellm_tui.core.config.model import load_config
    from forgellm_tui.core.training.engine import train
    from forgellm_tui.settings import Settings

    tic = time.perf_counter()
    result = train(load_config(config, settings=Settings.load(workspace)), lambda event: None)
    wall = time.perf_counter() - tic
    print(json.dumps({"run_dir": str(result.run_dir), "status": result.status, "wall": wall,
                      "trained_tokens": result.trained_tokens}))


def write_config(ws: Path, name: str, iters: int, save_every: int, extra: dict | None = None) -> Path:
    """The demo CPT config, shorter, as ``name``."""
    import yaml

    config = yaml.safe_load((ws / "configs" / "cpt-demo.yaml").read_text())
    config.update(name=name, max_iterations=iters, save_every=save_every, steps_per_eval=save_every, val_batches=2,
                  early_stopping=False, **(extra or {}))
    path = WORK / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    shutil.rmtree(ws / "models" / "cpt" / name, ignore_errors=True)
    return path


def train_run(ws: Path, name: str, iters: int, save_every: int, extra: dict | None = None) -> dict:
    config = write_config(ws, name, iters, save_every, extra)
    text, _ = finish(spawn([sys.executable, __file__, "--child", str(config), str(ws)], ws, name), f"training {name}")
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def test_rows(ws: Path, rows_wanted: int) -> Path:
    """``bench-test/test.jsonl``: demo test (then validation) rows that encode to exactly SEQ - 1 tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(ws / "models" / "base" / "forge-tiny"))
    kept = []
    for split in ("test", "valid"):
        for line in (ws / "data" / "cpt-demo" / f"{split}.jsonl").read_text().splitlines():
            ids = tokenizer.encode(json.loads(line)["text"])
            if len(ids) == SEQ - 1 and ids[-1] != tokenizer.eos_token_id:
                kept.append(line)
    kept = kept[: min(rows_wanted, len(kept)) // BATCH * BATCH]
    if not kept:
        raise SystemExit("no demo row encodes to exactly 127 tokens: cannot match mlx-lm's batching")
    folder = ws / "data" / "bench-test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.jsonl").write_text("\n".join(kept) + "\n")
    return folder


# --------------------------------------------------------------------------- the two commands

def start_ours(ws: Path, run: Path, which: str, data: Path, tag: str):
    shutil.rmtree(run / "eval", ignore_errors=True)  # results are reused when unchanged: measure afresh
    cmd = [sys.executable, "-m", "forgellm_tui", "eval", str(run), "--checkpoint", which, "--data",
           str(data / "test.jsonl"), "--batch-size", str(BATCH), "--json"]
    return spawn(cmd, ws, tag)


def finish_ours(job, tag: str) -> tuple[list[dict], float]:
    text, wall = finish(job, f"forgellm-tui eval ({tag})")
    return json.loads(text), wall  # one result per checkpoint


def start_mlx_lm(ws: Path, adapter: Path | None, data: Path, tag: str):
    cmd = [sys.executable, "-m", "mlx_lm", "lora", "--model", "models/base/forge-tiny", "--test", "--data",
           str(data), "--adapter-path", str(adapter) if adapter else "", "--batch-size", str(BATCH),
           "--max-seq-length", str(SEQ), "--test-batches", "-1"]
    return spawn(cmd, ws, tag)


def finish_mlx_lm(job, tag: str) -> tuple[float, float]:
    text, wall = finish(job, f"mlx_lm lora --test ({tag})")
    found = re.search(r"Test loss ([0-9]+\.[0-9]+), Test ppl ([0-9]+\.[0-9]+)", text)
    if not found:
        raise SystemExit(f"mlx_lm lora --test ({tag}) printed no test perplexity:\n{text[-2000:]}")
    return float(found.group(2)), wall


def measure_one(ws: Path, run: Path, ckpt: Path, iteration: int, data: Path, rows: int, repeat: int) -> dict:
    """Measurement 1: one checkpoint, both commands at the same time, ``repeat`` rounds."""
    print(f"1. one checkpoint ({ckpt.name}), {rows} rows x {SEQ - 1} target tokens, batch {BATCH}: "
          "forgellm-tui eval vs python -m mlx_lm lora --test, started together")
    rounds = []
    for k in range(repeat):
        a = start_ours(ws, run, str(iteration), data, f"ours-one-{k}")
        b = start_mlx_lm(ws, ckpt, data, f"mlx-one-{k}")
        wait(a, b)
        results, ours_wall = finish_ours(a, "one")
        ref_ppl, ref_wall = finish_mlx_lm(b, "one")
        mine = results[0]["perplexity"]
        scored = mine["tokens"] + results[0]["base"]["perplexity"]["tokens"]  # the base and the checkpoint
        ours_tps, ref_tps = scored / ours_wall, rows * (SEQ - 1) / ref_wall
        rel = abs(mine["perplexity"] - ref_ppl) / ref_ppl
        rounds.append({"ours_tokens_per_second": round(ours_tps, 1), "mlx_lm_tokens_per_second": round(ref_tps, 1),
                       "ours_wall_s": round(ours_wall, 2), "mlx_lm_wall_s": round(ref_wall, 2),
                       "ours_tokens_scored": scored, "ours_perplexity": mine["perplexity"],
                       "mlx_lm_perplexity": ref_ppl, "relative_difference": rel, "ratio": ours_tps / ref_tps})
        print(f"   round {k + 1}: ours {ours_tps:,.0f} tok/s ({ours_wall:.1f} s, base + checkpoint)   mlx_lm "
              f"{ref_tps:,.0f} tok/s ({ref_wall:.1f} s)   ratio {ours_tps / ref_tps:.2f}   ppl {mine['perplexity']:.3f}"
              f" vs {ref_ppl:.3f} (rel. diff {rel:.1e})")
    ratio = statistics.median(r["ratio"] for r in rounds)
    wall_ratio = statistics.median(r["mlx_lm_wall_s"] / r["ours_wall_s"] for r in rounds)
    worst = max(r["relative_difference"] for r in rounds)
    print(f"   median ratio {ratio:.2f} (target >= 1.0); perplexities agree to {worst:.1e} relative "
          f"({'ok' if worst < 1e-3 else 'NOT within 1e-3'}); wall time mlx_lm / ours {wall_ratio:.2f} "
          "(ours also measures the base)")
    return {"eval_ratio": round(ratio, 3), "perplexity_relative_difference": worst,
            "one_checkpoint_wall_ratio": round(wall_ratio, 3), "rounds_one": rounds}


def measure_all(ws: Path, run: Path, checkpoints: list[Path], data: Path, repeat: int) -> dict:
    """Measurement 2: ``--checkpoint all`` in one call vs one mlx-lm run per checkpoint and one for the base,
    ``repeat`` rounds (the median speed-up is kept)."""
    print(f"2. {len(checkpoints)} checkpoints + base: one forgellm-tui eval --checkpoint all vs "
          f"{len(checkpoints) + 1} mlx_lm lora --test runs, one after the other")
    rounds, worst = [], 0.0
    for k in range(repeat):
        results, ours_wall = finish_ours(start_ours(ws, run, "all", data, "ours-all"), "all")
        ref_wall, ref_ppl = 0.0, {}
        for adapter in [None, *checkpoints]:
            tag = f"mlx-all-{adapter.name if adapter else 'base'}"
            ppl, wall = finish_mlx_lm(start_mlx_lm(ws, adapter, data, tag), "all")
            ref_wall += wall
            ref_ppl[adapter.name if adapter else "base"] = ppl
        ours_ppl = {r["checkpoint"]: r["perplexity"]["perplexity"] for r in results}
        ours_ppl["base"] = results[0]["base"]["perplexity"]["perplexity"]
        worst = max(worst, max(abs(ours_ppl[key] - v) / v for key, v in ref_ppl.items() if key in ours_ppl))
        rounds.append({"ours_wall_s": round(ours_wall, 2), "mlx_lm_wall_s": round(ref_wall, 2),
                       "ratio": round(ref_wall / ours_wall, 3)})
        print(f"   round {k + 1}: ours {ours_wall:.1f} s ({len(results)} checkpoints + base)   mlx_lm {ref_wall:.1f} s"
              f"   speed-up {ref_wall / ours_wall:.2f}")
    middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    print(f"   median speed-up {middle['ratio']:.2f} (target >= 2.0); perplexities agree to {worst:.1e}")
    return {"multi_checkpoint_ratio": middle["ratio"], "multi_ours_wall_s": middle["ours_wall_s"],
            "multi_mlx_lm_wall_s": middle["mlx_lm_wall_s"], "multi_checkpoints": len(checkpoints),
            "multi_perplexity_relative_difference": worst, "rounds_multi": rounds}


def sampling_known() -> bool:
    """Whether this build's config takes the sampling keys (an unknown key is refused)."""
    from forgellm_tui.core.config import from_dict
    from forgellm_tui.core.errors import ForgeError

    try:
        from_dict({"model": "m", "data": "d", **SAMPLING})
    except ForgeError:
        return False
    return True


def measure_sampling(ws: Path, iters: int) -> dict:
    """Measurement 3: training tokens/s (trained tokens ÷ wall time of the whole training call, so the
    sampling itself counts) with sampling on / off, one after the other, three rounds."""
    print(f"3. training tokens/s, demo CPT config ({iters} iterations), sampling on vs off")
    if not sampling_known():
        print("   sample_overhead: sampling not available in this build")
        return {"sample_overhead": None, "sample_rounds": []}
    # A first run warms the page cache and the token store for both sides and is not counted; the order
    # then alternates, so whatever the first run of a pair pays falls on each side alike.
    train_run(ws, "bench-sample-off", iters // 4, DEMO_EVAL_EVERY, {"sample_prompts": None})
    rounds = []
    for k in range(3):
        pair = {}
        for side in (("off", "on") if k % 2 == 0 else ("on", "off")):
            extra = SAMPLING if side == "on" else {"sample_prompts": None}
            pair[side] = train_run(ws, f"bench-sample-{side}", iters, DEMO_EVAL_EVERY, extra)
        off, on = pair["off"], pair["on"]
        tps_off, tps_on = off["trained_tokens"] / off["wall"], on["trained_tokens"] / on["wall"]
        rounds.append({"off": round(tps_off, 1), "on": round(tps_on, 1), "ratio": tps_on / tps_off})
        print(f"   round {k + 1}: off {tps_off:,.0f} tok/s   on {tps_on:,.0f} tok/s   ratio {tps_on / tps_off:.3f}")
    ratio = statistics.median(r["ratio"] for r in rounds)
    print(f"   median ratio {ratio:.3f} (target >= 0.95)")
    return {"sample_overhead": round(ratio, 3), "sample_rounds": rounds}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2, metavar=("CONFIG", "WORKSPACE"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="fewer rows and iterations (noisier)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of measurements 1 and 2 (the median ratio is kept)")
    ap.add_argument("--keep-run", action="store_true", help="evaluate the run trained by the previous call again")
    ap.add_argument("--skip-sampling", action="store_true",
                    help="keep sample_overhead (and its rounds) from the existing results file")
    ap.add_argument("--sampling-only", action="store_true",
                    help="measure only sample_overhead and update it in the existing results file")
    args = ap.parse_args()
    if args.child:
        child_train(*args.child)
        return 0
    from forgellm_tui.core.demo.builder import build_demo

    WORK.mkdir(parents=True, exist_ok=True)
    ws = build_demo(WORK / "ws").folder
    if args.sampling_only:
        result = json.loads(RESULTS.read_text())
        load_before = os.getloadavg()
        result.update(measure_sampling(ws, 50 if args.quick else 100))
        result["load_average_sampling"] = load_average(load_before)
        write_results(RESULTS, result)
        return 0
    rows = 32 if args.quick else 256
    data = test_rows(ws, rows)
    rows = sum(1 for _ in (data / "test.jsonl").open())
    print(f"demo workspace: {ws}; cores: {os.cpu_count()}; test rows: {rows} of {SEQ - 1} + EOS tokens")
    load_before = os.getloadavg()
    run = ws / "models" / "cpt" / "bench-eval"
    if not (args.keep_run and (run / "checkpoints").is_dir()):
        run = Path(train_run(ws, "bench-eval", 25 if args.quick else 50, 5 if args.quick else 10)["run_dir"])
    checkpoints = sorted(p for p in (run / "checkpoints").iterdir() if p.name.isdigit())[-5:]
    if len(checkpoints) < 5:
        raise SystemExit(f"the run has {len(checkpoints)} numbered checkpoints, not 5: {run}")
    result = measure_one(ws, run, checkpoints[-1], int(checkpoints[-1].name), data, rows, args.repeat)
    result.update(measure_all(ws, run, checkpoints, data, args.repeat))
    if args.skip_sampling and RESULTS.exists():
        kept = json.loads(RESULTS.read_text())
        result.update({k: kept[k] for k in ("sample_overhead", "sample_rounds", "load_average_sampling") if k in kept})
    else:
        result.update(measure_sampling(ws, 50 if args.quick else 100))
    import mlx_lm

    result.update({
        "settings": {"model": "forge-tiny (llama, 4 layers, hidden 256)", "batch_size": BATCH, "max_seq_length": SEQ,
                     "test_rows": rows, "checkpoints": [p.name for p in checkpoints], "mlx_lm": mlx_lm.__version__,
                     "cores": os.cpu_count(), "quick": args.quick},
        "load_average": load_average(load_before),
        "notes": "Wall time of whole commands (start-up and model load included). eval_ratio: ours scores base + "
                 "checkpoint in its one command, mlx-lm the checkpoint only; tokens/s counts every scored token. "
                 "Inputs chosen so both perplexity definitions coincide (see bench_eval.py). Other processes on "
                 "the machine change absolute numbers: see load_average.",
    })
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
