"""Preference training speed: our DPO vs mlx-lm-lora's, the stored reference pass, multi-turn supervision.

1. dpo_ratio            - DPO training tokens/s: ``forgellm-tui`` (``training_type: dpo``) vs mlx-lm-lora's
                          ``--train-mode dpo``, the two training loops running at the same time
                          (same process load), median of the rounds (target >= 1.0). Tokens are the
                          answer tokens of the pairs trained (chosen + rejected, after the prompt, the
                          end-of-turn tokens included: what each side's loss scores). Tokens/s is each
                          tool's own report-window figure: ours, the window's tokens / the sum of its step
                          times (batch, step, evaluation); mlx-lm-lora's, the window's tokens / the wall
                          time since its previous report. The mean of the windows between the first
                          (which includes the first compile) and the last: mlx-lm-lora validates before
                          its last step and restarts its window clock after that, so its last window
                          divides the tokens of all its ten steps by the time of the last step alone (it
                          reads 10-20 times the others). Validation is outside the windows on both sides.
2. reference_pass_ratio - time of one DPO step that computes the reference log-probabilities in the step (a
                          frozen copy of the base model, one more forward of the batch) / time of our step
                          that reads them from the stored pass. One process, the same batches, both steps
                          compiled as training compiles them (value_and_grad, Adam update, model and
                          optimizer state as inputs/outputs); each batch's two steps run back to back
                          (alternating which goes first); the median over 5 rounds of (mean step with the
                          reference / mean step with the stored pass) (target >= 1.3).
3. supervised_fraction  - on three-turn chats, supervised tokens with ``train_on: assistant`` / with ``last``
                          (``bench_masking.py``'s set and count; expect about 3).

How the two DPO runs are matched: the same model (the demo's forge-tiny), the same pairs (the demo's
preference set, ``data/demo-preference`` as the demo builder prepares it; mlx-lm-lora gets the same
train/valid lines in its ``{"prompt", "chosen", "rejected"}`` form), the same max_seq_length (128: no
pair is cut), batch 4 pairs,
LoRA rank 8 / scale 20 / dropout 0 on all 4 blocks (mlx-lm's default layer keys on both sides), Adam at a
constant 1e-5, beta 0.1 (sigmoid loss), the same iterations, and the same OpenBLAS preload and kernel set
(``bench_train.env``). What differs is each tool's design: mlx-lm-lora runs chosen and rejected as two
forward passes, runs a second (reference) model over both every step, and pads each batch to its longest
sequence; ours runs one ``[2B, W]`` pass, reads the reference log-probabilities stored before the
first step, and pads to 1 + a multiple of 32 (fewer shapes to compile; ``padding`` in the JSON
gives both sides' mean padded width over an epoch of these pairs). Ours starts first;
mlx-lm-lora starts when our run has its reference pass and begins its first step (our ``RunStarted``
event), so the two training loops overlap; the last windows of whichever ends later run beside one
process fewer (the rounds record both commands' wall times). The one-time reference pass is not in
our step windows; it is in ``*_command_wall_s`` (whole commands).

mlx-lm-lora goes in its own environment (its pins must not move ours)::

    python -m venv VENV --system-site-packages && VENV/bin/pip install mlx-lm-lora

and ``--lora-python VENV/bin/python``. Its ``train_dpo`` starts with
``mx.set_wired_limit(mx.device_info()["max_recommended_working_set_size"])``: that key exists only on
Metal, so on a CPU the stock command stops with ``KeyError`` before its first step. The benchmark's
launcher adds the key (value 0; ``set_wired_limit`` does nothing on the CPU) and then runs mlx-lm-lora's
own ``main()`` unchanged; ``mlx_lm_lora.stock_cpu_error`` in the JSON records the stock behaviour.

Writes bench/results/preference.json.
Usage: python bench/bench_preference.py [--quick] [--repeat N] [--lora-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import processes
from processes import finish, wait
from results_io import load_average, write_results

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "preference"
RESULTS = ROOT / "bench" / "results" / "preference.json"
DATA = "demo-preference"  # the demo's preference pairs, as the demo builder prepares them
BATCH, SEQ, RANK, SCALE, LR, BETA, REPORT = 4, 128, 8, 20.0, 1e-5, 0.1, 10
#: the key mlx-lm-lora's train_dpo reads from mx.device_info(); Metal reports it, the CPU does not
WIRED_KEY = "max_recommended_working_set_size"


# --------------------------------------------------------------------------- data

def lora_data(prepared: Path) -> Path:
    """The prepared train/valid pairs in mlx-lm-lora's ``{"prompt", "chosen", "rejected"}`` form."""
    out = WORK / "lora-data"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid"):
        lines = []
        for line in (prepared / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            if len(row["messages"]) != 1 or row["messages"][0]["role"] != "user":
                raise SystemExit(f"{prepared / split}.jsonl: expected one user message per pair")
            lines.append(json.dumps({"prompt": row["messages"][0]["content"], "chosen": row["chosen"],
                                     "rejected": row["rejected"]}))
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return out


# --------------------------------------------------------------------------- children

def child_env() -> dict:
    """Both sides' BLAS: the app's OpenBLAS preload and kernel set (``bench_train.env``)."""
    import bench_train

    return bench_train.env(True)


def child_ours(config: str, workspace: str) -> None:
    """Train with our engine. One JSON line when the first step is about to run (the reference pass is
    done), one at the end: the tokens/s of every report window."""
    from forgellm_tui.core import events as ev
    from forgellm_tui.core.config.model import load_config
    from forgellm_tui.core.training.engine import train
    from forgellm_tui.settings import Settings

    tps: list[float] = []

    def on_event(event):
        if isinstance(event, ev.RunStarted):
            print(json.dumps({"training_from": time.time()}), flush=True)
        if isinstance(event, ev.Metrics) and event.training_loss is not None and event.tokens_per_second:
            tps.append(event.tokens_per_second)

    tic = time.perf_counter()
    result = train(load_config(config, settings=Settings.load(workspace)), on_event)
    print(json.dumps({"tps": tps, "status": result.status, "wall": time.perf_counter() - tic,
                      "trained_tokens": result.trained_tokens}))


def lora_launcher(argv: list[str]) -> None:
    """Run mlx-lm-lora's own ``main()`` (in its environment) with the Metal-only key supplied."""
    import mlx.core as mx

    stock = mx.device_info

    def device_info():
        info = dict(stock())
        info.setdefault(WIRED_KEY, 0)
        return info

    mx.device_info = device_info
    sys.argv = ["mlx_lm_lora.train", *argv]
    from mlx_lm_lora.train import main as lora_main

    lora_main()


def lora_probe(python: str) -> dict:
    """mlx-lm-lora's version, the mlx/mlx-lm it runs with, and the stock command's CPU failure."""
    code = ("import json, mlx.core as mx, mlx_lm, importlib.metadata as m\n"
            "info = {'mlx_lm_lora': m.version('mlx-lm-lora'), 'mlx': mx.__version__, 'mlx_lm': mlx_lm.__version__}\n"
            "try:\n    mx.set_wired_limit(mx.device_info()['%s'])\n    info['stock_cpu_error'] = None\n"
            "except Exception as e:\n    info['stock_cpu_error'] = f'{type(e).__name__}: {e}'\n"
            "print(json.dumps(info))" % WIRED_KEY)
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=child_env())
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def lora_answer_tokens(python: str, ws: Path, data: Path) -> int | None:
    """Answer tokens (chosen + rejected) of the train pairs as mlx-lm-lora's DPODataset masks them."""
    code = ("import json, sys\nfrom pathlib import Path\nfrom mlx_lm.tokenizer_utils import load\n"
            "from mlx_lm_lora.trainer.datasets import DPODataset\n"
            "rows = [json.loads(line) for line in open(sys.argv[2])]\n"
            "ds = DPODataset(rows, load(Path(sys.argv[1])))\n"
            "print(sum(len(d['chosen']) - d['chosen_prompt_length'] + len(d['rejected']) - d['rejected_prompt_length']"
            " for d in (ds[i] for i in range(len(ds)))))")
    done = subprocess.run([python, "-c", code, str(ws / "models" / "base" / "forge-tiny"), str(data / "train.jsonl")],
                          capture_output=True, text=True, env=child_env())
    lines = done.stdout.strip().splitlines()
    return int(lines[-1]) if done.returncode == 0 and lines and lines[-1].isdigit() else None


def spawn(cmd: list[str], cwd: Path, tag: str) -> dict:
    return processes.spawn(cmd, cwd, WORK, tag, child_env())


# --------------------------------------------------------------------------- 1. DPO vs mlx-lm-lora

def steady(tps: list[float]) -> float:
    """Mean of the report windows without the first (compile) and the last (see the module docstring)."""
    inner = tps[1:-1] or tps[1:] or tps
    return statistics.mean(inner)


def start_ours(ws: Path, iters: int, tag: str) -> dict:
    import yaml

    config = {"training_type": "dpo", "beta": BETA, "model": "models/base/forge-tiny", "data": f"data/{DATA}",
              "name": tag, "max_iterations": iters, "batch_size": BATCH, "max_seq_length": SEQ,
              "fine_tune_type": "lora", "num_layers": -1,
              "lora_parameters": {"rank": RANK, "scale": SCALE, "dropout": 0.0}, "optimizer": "adam",
              "learning_rate": LR, "lr_schedule": "constant", "steps_per_report": REPORT, "steps_per_eval": 100000,
              "val_batches": 1, "save_every": 100000, "early_stopping": False, "seed": 0}
    path = WORK / f"{tag}.yaml"
    path.write_text(yaml.safe_dump(config))
    shutil.rmtree(ws / "models" / "dpo" / tag, ignore_errors=True)
    return spawn([sys.executable, __file__, "--child", str(path), str(ws)], ws, tag)


def wait_training(job: dict, timeout: float = 1800) -> None:
    """Until our run has its reference pass and begins its first step (or has ended)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and job["proc"].poll() is None:
        if '"training_from"' in (WORK / f"{job['tag']}.out").read_text():
            return
        time.sleep(0.2)


def finish_ours(job: dict) -> dict:
    text, wall = finish(job)
    data = json.loads([line for line in text.splitlines() if line.startswith('{"tps"')][-1])
    if data["status"] != "finished" or not data["tps"]:
        raise RuntimeError(f"our DPO run {job['tag']} ended {data['status']} with {len(data['tps'])} reports")
    return {"tps": data["tps"], "tokens_per_second": steady(data["tps"]), "command_wall_s": wall,
            "trained_tokens": data["trained_tokens"]}


def start_lora(ws: Path, python: str, data: Path, iters: int, tag: str) -> dict:
    config = WORK / "lora.yaml"  # what the command line cannot say: no fusing, LoRA scale and dropout
    config.write_text(json.dumps({"fuse": False, "lora_parameters": {"rank": RANK, "scale": SCALE, "dropout": 0.0}}))
    cmd = [python, __file__, "--lora-child", "-c", str(config), "--model", "models/base/forge-tiny", "--train",
           "--train-mode", "dpo", "--data", str(data), "--train-type", "lora", "--num-layers", "-1",
           "--batch-size", str(BATCH), "--iters", str(iters), "--max-seq-length", str(SEQ), "--optimizer", "adam",
           "--learning-rate", str(LR), "--beta", str(BETA), "--dpo-cpo-loss-type", "sigmoid", "--seed", "0",
           "--steps-per-report", str(REPORT), "--steps-per-eval", "100000", "--val-batches", "1",
           "--save-every", "100000", "--adapter-path", str(WORK / f"{tag}-adapters")]
    return spawn(cmd, ws, tag)


LORA_REPORT = re.compile(r"Iter (\d+): loss [-0-9.naif]+,.*? it/s ([0-9.]+), tok/s ([0-9.]+)")


def finish_lora(job: dict) -> dict:
    text, wall = finish(job)
    windows = [(float(m.group(2)), float(m.group(3))) for m in LORA_REPORT.finditer(text)]
    if not windows:
        raise RuntimeError(f"mlx-lm-lora printed no training report:\n{text[-1500:]}")
    tps = [tok for _, tok in windows]
    trained = sum(tok * REPORT / its for its, tok in windows)  # the last window may be shorter: close enough
    return {"tps": tps, "tokens_per_second": steady(tps), "command_wall_s": wall,
            "trained_tokens": round(trained)}


def measure_dpo(ws: Path, python: str, data: Path, iters: int, repeat: int) -> dict:
    print(f"1. DPO tokens/s, {iters} iterations of {BATCH} pairs: forgellm-tui vs mlx-lm-lora, training together")
    rounds = []
    for k in range(repeat):
        a = start_ours(ws, iters, f"bench-dpo-{k}")
        wait_training(a)  # its reference pass alone; then both training loops share the machine
        b = start_lora(ws, python, data, iters, f"lora-dpo-{k}")
        wait(a, b)
        ours, lora = finish_ours(a), finish_lora(b)
        ratio = ours["tokens_per_second"] / lora["tokens_per_second"]
        rounds.append({"ours": ours, "mlx_lm_lora": lora, "ratio": ratio})
        print(f"   round {k + 1}: ours {ours['tokens_per_second']:,.0f} tok/s   mlx-lm-lora "
              f"{lora['tokens_per_second']:,.0f} tok/s   ratio {ratio:.2f}   (whole commands "
              f"{ours['command_wall_s']:.0f} s / {lora['command_wall_s']:.0f} s)")
    ratio = statistics.median(r["ratio"] for r in rounds)
    print(f"   median ratio {ratio:.2f} (target >= 1.0)")
    return {"dpo_ratio": round(ratio, 3), "dpo_rounds": rounds}


# --------------------------------------------------------------------------- 2. stored reference pass

def padded_widths(pairs) -> dict:
    """Mean padded row width over one epoch of training batches: ours (``PairStream``) and mlx-lm-lora's
    rule (pairs sorted by the length of the chosen sequence, batches in that order, each padded to its
    longest chosen or rejected sequence), next to the mean sequence length."""
    import numpy as np

    from forgellm_tui.core.preference import PairStream

    stream = PairStream(pairs, BATCH, seed=0)
    ours = [stream.next()[0].shape[1] for _ in range(stream.batches_per_epoch)]
    chosen = np.array([len(pairs.sequence(i)[0]) for i in range(len(pairs))])
    rejected = np.array([len(pairs.sequence(i, rejected=True)[0]) for i in range(len(pairs))])
    order = sorted(range(len(pairs)), key=lambda i: chosen[i])
    theirs = [min(max(chosen[g].max(), rejected[g].max()), SEQ)
              for g in (order[i:i + BATCH] for i in range(0, len(order) - BATCH + 1, BATCH))]
    return {"ours_mean_width": round(float(np.mean(ours)), 1),
            "mlx_lm_lora_mean_width": round(float(np.mean(theirs)), 1),
            "mean_sequence_length": round(float(np.mean(np.concatenate([chosen, rejected]))), 1),
            "ours_answer_tokens": int(pairs.answer_tokens),
            "ours_widths": sorted({int(w) for w in ours}), "mlx_lm_lora_distinct_widths": len(set(theirs))}


def child_reference(ws: str, pairs: str, batches: int, rounds: int) -> None:
    """Time both compiled steps on the same batches; print one JSON line."""
    from functools import partial

    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx_lm.tuner.utils import linear_to_lora_layers
    from mlx_lm.utils import load

    from forgellm_tui.core.datasets import read_preference_file
    from forgellm_tui.core.preference import PairStream, dpo_loss, sequence_logps, tokenize_pairs

    folder, data = Path(ws) / "models" / "base" / "forge-tiny", Path(pairs)
    model, tokenizer = load(folder)
    reference, _ = load(folder)
    reference.freeze()
    model.freeze()
    mx.random.seed(0)
    linear_to_lora_layers(model, len(model.layers), {"rank": RANK, "scale": SCALE, "dropout": 0.0})
    pair_set = tokenize_pairs(read_preference_file(data), tokenizer, SEQ, data)
    stream = PairStream(pair_set, BATCH, seed=0)
    work = [tuple(mx.array(a) for a in stream.next()[:2]) for _ in range(batches)]
    stored = [sequence_logps(reference, tokens, mask)[0] for tokens, mask in work]  # what the stored pass holds
    mx.eval(stored)
    opt = optim.Adam(learning_rate=LR)
    state = [model.state, opt.state, mx.random.state]

    def loss_stored(model, tokens, mask, ref_logps):
        return dpo_loss(sequence_logps(model, tokens, mask)[0], ref_logps, BETA)[0]

    def loss_every(model, tokens, mask):
        ref_logps = mx.stop_gradient(sequence_logps(reference, tokens, mask)[0])
        return dpo_loss(sequence_logps(model, tokens, mask)[0], ref_logps, BETA)[0]

    def compiled(loss_fn):
        loss_and_grad = nn.value_and_grad(model, loss_fn)

        @partial(mx.compile, inputs=state, outputs=state)
        def step(*batch):
            loss, grad = loss_and_grad(model, *batch)
            opt.update(model, grad)
            return loss
        return step

    steps = {"stored": (compiled(loss_stored), lambda i: (*work[i], stored[i])),
             "every_step": (compiled(loss_every), lambda i: work[i])}

    def once(name: str, i: int) -> float:
        step, inputs = steps[name]
        tic = time.perf_counter()
        mx.eval(step(*inputs(i)), state)
        return time.perf_counter() - tic

    for name in steps:  # compile every width once, outside the timing
        for i in range(batches):
            once(name, i)
    # Per batch, both steps back to back in alternating order: a burst of load from elsewhere falls
    # on both alike. A round is one pass over the batches; its time is the mean step.
    times: dict[str, list[float]] = {"stored": [], "every_step": []}
    for k in range(rounds):
        spent = {"stored": 0.0, "every_step": 0.0}
        for i in range(batches):
            for name in (("stored", "every_step") if (i + k) % 2 == 0 else ("every_step", "stored")):
                spent[name] += once(name, i)
        for name, total in spent.items():
            times[name].append(total / batches)
    widths = sorted({int(tokens.shape[1]) for tokens, _ in work})
    print(json.dumps({"times": times, "widths": widths, "padding": padded_widths(pair_set)}))


def measure_reference(ws: Path, pairs: Path, batches: int, rounds: int) -> dict:
    print(f"2. DPO step with the reference computed in the step vs read from the stored pass "
          f"({batches} batches of {BATCH} pairs, {rounds} rounds, compiled)")
    cmd = [sys.executable, __file__, "--reference-child", str(ws), str(pairs), str(batches), str(rounds)]
    try:
        text, _ = finish(spawn(cmd, ws, "reference"))
    except RuntimeError as exc:
        print(f"   reference_pass_ratio: not measured ({str(exc).strip().splitlines()[-1]})")
        return {"reference_pass_ratio": None, "reference_pass_reason": str(exc)[-3000:]}
    found = json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
    every, stored = (statistics.median(found["times"][k]) for k in ("every_step", "stored"))
    ratio = statistics.median(e / s for e, s in zip(found["times"]["every_step"], found["times"]["stored"]))
    print(f"   step {every * 1e3:.1f} ms (reference every step) vs {stored * 1e3:.1f} ms (stored)   "
          f"ratio {ratio:.2f} (target >= 1.3); widths {found['widths']}")
    pad = found["padding"]
    print(f"   padded width over an epoch of training batches: ours {pad['ours_mean_width']} (widths "
          f"{pad['ours_widths']}), mlx-lm-lora {pad['mlx_lm_lora_mean_width']} ({pad['mlx_lm_lora_distinct_widths']} "
          f"widths); mean sequence {pad['mean_sequence_length']} tokens")
    return {"reference_pass_ratio": round(ratio, 3), "reference_step_ms": round(every * 1e3, 2),
            "stored_step_ms": round(stored * 1e3, 2),
            "reference_rounds_ms": {k: [round(t * 1e3, 2) for t in v] for k, v in found["times"].items()},
            "reference_batch_widths": found["widths"], "padding": found["padding"]}


# --------------------------------------------------------------------------- 3. multi-turn supervision

def measure_supervision(ws: Path) -> dict:
    """``bench_masking``'s three-turn chats and count, on its tokenizers and the demo model's."""
    import bench_masking

    rows = bench_masking.three_turn_chats()
    folders = [bench_masking.FIXTURES / name for name in bench_masking.TOKENIZERS]
    folders.append(ws / "models" / "base" / "forge-tiny")
    per = {folder.name: bench_masking.measure(folder, rows)["supervised_fraction"] for folder in folders}
    mean = sum(per.values()) / len(per)
    print(f"3. supervised tokens, train_on assistant / last, {len(rows)} three-turn chats: "
          + ", ".join(f"{k} {v:.2f}" for k, v in per.items()) + f"; mean {mean:.2f} (expect about 3)")
    return {"supervised_fraction": round(mean, 3), "supervised_fraction_per_tokenizer": per,
            "supervised_conversations": len(rows)}


# --------------------------------------------------------------------------- main

def lora_side(ws: Path, python: str, iters: int, repeat: int) -> dict:
    """Measurement 1, or ``dpo_ratio`` None with the reason when a side cannot run here."""
    probe = lora_probe(python)
    if "error" in probe:
        return {"dpo_ratio": None, "dpo_ratio_reason": f"mlx-lm-lora does not load with {python}: {probe['error']}",
                "mlx_lm_lora": probe}
    try:
        data = lora_data(ws / "data" / DATA)
        result = measure_dpo(ws, python, data, iters, repeat)
        result["mlx_lm_lora_answer_tokens"] = lora_answer_tokens(python, ws, data)
    except RuntimeError as exc:
        print(f"   dpo_ratio: not measured ({str(exc).splitlines()[0]})")
        return {"dpo_ratio": None, "dpo_ratio_reason": str(exc)[:3000], "mlx_lm_lora": probe}
    return {**result, "mlx_lm_lora": probe}


def main() -> int:
    if sys.argv[1:2] == ["--lora-child"]:  # mlx-lm-lora's arguments follow: not ours to parse
        lora_launcher(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2, metavar=("CONFIG", "WORKSPACE"), help=argparse.SUPPRESS)
    ap.add_argument("--reference-child", nargs=4, metavar=("WORKSPACE", "PAIRS", "BATCHES", "ROUNDS"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="fewer iterations and rounds (noisier)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of measurement 1 (the median ratio is kept)")
    ap.add_argument("--lora-python", default=os.environ.get("MLX_LM_LORA_PYTHON", sys.executable), metavar="PATH",
                    help="python of the environment that has mlx-lm-lora (default: $MLX_LM_LORA_PYTHON or this one)")
    args = ap.parse_args()
    if args.child:
        child_ours(*args.child)
        return 0
    if args.reference_child:
        ws, pairs, batches, rounds = args.reference_child
        child_reference(ws, pairs, int(batches), int(rounds))
        return 0
    import bench_train
    from forgellm_tui.core.demo.builder import build_demo

    WORK.mkdir(parents=True, exist_ok=True)
    ws = build_demo(WORK / "ws").folder
    core, _ = bench_train.kernel_sets()
    load_before = os.getloadavg()
    print(f"demo workspace: {ws}; cores: {os.cpu_count()}; load average {load_before[0]:.2f}; kernel set {core}")
    if not (ws / "data" / DATA / "train.jsonl").exists():
        raise SystemExit(f"this build's demo has no preference set ({ws / 'data' / DATA}): nothing to measure")
    result = lora_side(ws, args.lora_python, 40 if args.quick else 100, 1 if args.quick else args.repeat)
    result.update(measure_reference(ws, ws / "data" / DATA / "train.jsonl", 6 if args.quick else 16,
                                    3 if args.quick else 5))
    if result.get("padding") and result.get("mlx_lm_lora_answer_tokens") is not None:
        print(f"   answer tokens of the train pairs (the tokens both sides count): ours "
              f"{result['padding']['ours_answer_tokens']:,}, mlx-lm-lora {result['mlx_lm_lora_answer_tokens']:,}")
    result.update(measure_supervision(ws))
    import mlx_lm

    result.update({
        "settings": {"model": "forge-tiny (llama, 4 layers, hidden 256)", "batch_pairs": BATCH, "max_seq_length": SEQ,
                     "lora": {"rank": RANK, "scale": SCALE, "dropout": 0.0, "layers": "all 4"}, "optimizer": "adam",
                     "learning_rate": LR, "beta": BETA, "iterations": 40 if args.quick else 100,
                     "mlx_lm": mlx_lm.__version__, "cores": os.cpu_count(), "blas_kernel_set": core,
                     "quick": args.quick},
        "load_average": load_average(load_before),
        "notes": "dpo_ratio: tokens = answer tokens (chosen + rejected) of the pairs trained, per second of each "
                 "tool's report windows without the first (compile) and the last (mlx-lm-lora restarts its window "
                 "clock after its final validation); the two training loops run at the same time (mlx-lm-lora starts "
                 "when our reference pass is done). *_command_wall_s: whole "
                 "commands (start-up, model load, our stored reference pass, validation). Other processes on the "
                 "machine change absolute numbers: see load_average.",
    })
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
