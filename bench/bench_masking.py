"""Multi-turn masking benchmark (writes bench/results/masking.json).

``supervised_fraction``: on a set of three-turn chats, the tokens the loss sees with ``train_on:
assistant`` (every assistant turn) divided by those with ``train_on: last`` (mlx-lm's mask: the last
turn only). About 3 means the first two answers of each chat are no longer dropped. Also reported per
tokenizer: the time to tokenize the set with each mask (rendering turn by turn costs extra renders).

The chats are question/answer pairs from the docstrings of standard-library modules (what the demo's
IFT set is made of), three per conversation. Tokenizers: the real ones in tests/fixtures/tokenizers
(Qwen2.5 ChatML, Mistral v0.3 [INST], Phi-3), and ``--model`` folders given on the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
FIXTURES = ROOT / "tests" / "fixtures" / "tokenizers"
TOKENIZERS = ["qwen2.5-coder-3b-instruct", "mistral-7b-instruct-v0.3", "phi-3-mini-128k-instruct"]
MODULES = ["json", "pathlib", "collections", "itertools", "functools", "os", "re", "datetime", "string",
           "textwrap", "shutil", "random", "statistics", "heapq", "bisect", "csv", "zipfile", "tarfile"]


def three_turn_chats() -> list[dict]:
    from forgellm_tui.core.demo.corpus import render_module

    pairs = [pair for name in MODULES for pair in render_module(name)[2]]
    return [{"messages": [m for q, a in pairs[i:i + 3] for m in ({"role": "user", "content": q},
                                                                  {"role": "assistant", "content": a})]}
            for i in range(0, len(pairs) - 2, 3)]


def measure(folder: Path, rows: list[dict]) -> dict:
    from mlx_lm.tokenizer_utils import load

    from forgellm_tui.core.tokens import supervision

    tok = load(folder)
    out = {}
    for train_on in ("assistant", "last", "all"):
        start = time.perf_counter()
        found = supervision.count(rows, tok, 1 << 30, train_on)
        out[train_on] = {"supervised": found.supervised, "tokens": found.tokens, "unstable": found.unstable,
                         "seconds": round(time.perf_counter() - start, 3)}
    out["supervised_fraction"] = round(out["assistant"]["supervised"] / out["last"]["supervised"], 3)
    out["tokenize_time_ratio"] = round(out["assistant"]["seconds"] / max(out["last"]["seconds"], 1e-9), 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], metavar="PATH",
                    help="also measure this model folder's tokenizer (repeatable)")
    ap.add_argument("--out", type=Path, default=RESULTS / "masking.json")
    args = ap.parse_args()
    rows = three_turn_chats()
    folders = [FIXTURES / name for name in TOKENIZERS] + [Path(m) for m in args.model]
    per = {}
    for folder in folders:
        per[folder.name] = measure(folder, rows)
        r = per[folder.name]
        print(f"{folder.name:<28} assistant {r['assistant']['supervised']:>7,}  last {r['last']['supervised']:>7,}  "
              f"all {r['all']['supervised']:>7,}  fraction {r['supervised_fraction']:.2f}  "
              f"time x{r['tokenize_time_ratio']:.2f}  unstable {r['assistant']['unstable']}")
    fractions = [r["supervised_fraction"] for r in per.values()]
    result = {"benchmark": "masking", "conversations": len(rows), "turns_per_conversation": 3,
              "supervised_fraction": round(sum(fractions) / len(fractions), 3),
              "supervised_fraction_definition": "supervised tokens with train_on: assistant / with train_on: last",
              "per_tokenizer": per}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"supervised_fraction {result['supervised_fraction']:.2f} over {len(rows):,} three-turn chats "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
