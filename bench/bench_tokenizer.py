"""Our token-counting fast path vs Hugging Face ``Tokenizer.encode_batch`` (adds keys to bench/results/tokens.json).

The corpus is the one ``bench_tokens.py`` counts (paragraphs of the offline demo corpus shuffled into
files, generated once under bench/work/corpus<MB>/). Every file's text is read into memory first, so
only tokenization is timed. For each tokenizer, every file's token count (no special tokens) three ways:

- fast path: ``HFEngine.count`` per file, what ``scan_dataset`` calls (the tokenizer's regex pieces,
  one BPE run per distinct piece); a fresh engine each round, so its memo starts empty;
- ``encode_batch``: the same ``tokenizers.Tokenizer``'s Rust batch call (texts of a batch encoded in
  parallel on all cores), batches of ``--batch-mb`` MB of text; with ``--batch-fast`` also
  ``encode_batch_fast`` (the same without offsets: what the engine batches with when it has no fast path);
- plain loop: ``Tokenizer.encode`` per file.

Before any figure is kept, the plain loop's ids are the reference: every file's ``HFEngine.ids`` (the
ids ``prepare`` stores) and ``encode_batch`` ids must equal them, and every timed round's counts must
equal the loop's; a mismatch stops the benchmark. Fast path and batch calls: median of ``--rounds``
rounds, alternating which goes first; the plain loop is timed once (during the reference pass).
``fast_vs_encode_batch`` = encode_batch seconds / fast-path seconds (> 1: the fast path wins), the
smallest over the tokenizers; each tokenizer's figures are under ``encode_batch_compare``.

Tokenizers: the demo model's (built offline), and the real ones in tests/fixtures/tokenizers that can
tokenize text: gpt2-xl and qwen2.5-coder-3b-instruct (byte-level BPE: the fast path applies);
mistral-7b-instruct-v0.3 and phi-3-mini-128k-instruct (SentencePiece-style: the engine always calls
``encode``, so there is no fast path to compare) only when named in ``--tokenizers``.

Usage: python bench/bench_tokenizer.py [--mb 50] [--rounds 3] [--batch-mb 4] [--batch-fast]
       [--tokenizers demo,gpt2-xl,...]
       (a size other than 50 MB writes bench/results/tokens-quick.json instead)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tokens import RESULTS, ROOT, demo_workspace, generate_corpus  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "tokenizers"
DEFAULT_TOKENIZERS = "demo,gpt2-xl,qwen2.5-coder-3b-instruct"


def load_backend(folder: Path):
    """The ``tokenizers.Tokenizer`` the app counts with for ``folder`` (loaded as ``TokenCounter`` does:
    tokenizer.json directly, or through transformers when the folder has only vocab.json + merges.txt)."""
    from forgellm_tui.core.tokens.stats import TokenCounter

    counter = TokenCounter(model_path=folder, strict=True)
    return counter.engine.backend


def batches(texts: list[str], batch_mb: float) -> list[list[str]]:
    out, cur, size = [], [], 0
    for text in texts:
        cur.append(text)
        size += len(text)
        if size >= batch_mb * 1_000_000:
            out.append(cur)
            cur, size = [], 0
    return out + ([cur] if cur else [])


def reference(backend, texts: list[str]) -> tuple[list[array], float, dict]:
    """The plain loop (timed) gives the reference ids; the fast path's ids are checked against them."""
    from forgellm_tui.core.tokens.engine import HFEngine

    engine = HFEngine(backend)
    ids, loop = [], 0.0
    for k, text in enumerate(texts):
        t = time.perf_counter()
        enc = backend.encode(text, add_special_tokens=False)
        loop += time.perf_counter() - t
        ids.append(array("I", enc.ids))
        if engine.fast and array("I", engine.ids(text)) != ids[-1]:
            raise SystemExit(f"fast-path ids differ from encode on file {k}")
    pieces = sum(len(engine._pieces(t)) for t in texts) if engine.fast else None
    return ids, loop, {"fast_path": engine.fast, "pieces": pieces}


def time_fast(backend, texts: list[str], want: list[int]) -> tuple[float, int]:
    from forgellm_tui.core.tokens.engine import HFEngine

    engine = HFEngine(backend)  # a fresh memo: the first scan of a corpus
    t = time.perf_counter()
    counts = [engine.count(text) for text in texts]
    elapsed = time.perf_counter() - t
    if counts != want:
        raise SystemExit("fast-path counts differ from encode")
    return elapsed, len(engine._memo) if engine.fast else 0


def time_batch(call, groups: list[list[str]], ref: list[array], check_ids: bool) -> float:
    """Seconds spent inside ``call`` over all batches; counts (and ids) compared outside the clock."""
    elapsed, k = 0.0, 0
    for group in groups:
        t = time.perf_counter()
        encs = call(group, add_special_tokens=False)
        elapsed += time.perf_counter() - t
        for enc in encs:
            if len(enc.ids) != len(ref[k]) or (check_ids and array("I", enc.ids) != ref[k]):
                raise SystemExit(f"{call.__name__} differs from encode on file {k}")
            k += 1
    return elapsed


def bench_one(name: str, folder: Path, texts: list[str], rounds: int, batch_mb: float, batch_fast: bool) -> dict:
    backend = load_backend(folder)
    ref, loop, info = reference(backend, texts)
    want = [len(x) for x in ref]
    groups = batches(texts, batch_mb)
    runs: dict[str, list[float]] = {"fast": [], "encode_batch": [], **({"encode_batch_fast": []} if batch_fast else {})}
    distinct = 0
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for kind in order:
            if kind == "fast":
                elapsed, distinct = time_fast(backend, texts, want)
            else:
                elapsed = time_batch(getattr(backend, kind), groups, ref, check_ids=r == 0)
            runs[kind].append(elapsed)
    med = {kind: statistics.median(v) for kind, v in runs.items()}
    batch_fast_s = med.get("encode_batch_fast")
    row = {"tokenizer": name, "fast_path": info["fast_path"], "tokens": sum(want),
           "pieces": info["pieces"], "distinct_pieces": distinct, "batches": len(groups),
           "fast_s": round(med["fast"], 3), "encode_batch_s": round(med["encode_batch"], 3),
           "encode_batch_fast_s": None if batch_fast_s is None else round(batch_fast_s, 3), "loop_s": round(loop, 3),
           "runs": {kind: [round(x, 3) for x in v] for kind, v in runs.items()},
           "fast_vs_encode_batch": round(med["encode_batch"] / med["fast"], 2),
           "fast_vs_encode_batch_fast": None if batch_fast_s is None else round(batch_fast_s / med["fast"], 2),
           "fast_vs_loop": round(loop / med["fast"], 2)}
    shown = "-" if batch_fast_s is None else f"{batch_fast_s:.2f}"
    print(f"  {name:28}{row['fast_s']:>9.2f}{row['encode_batch_s']:>14.2f}{shown:>19}{loop:>8.2f}"
          f"{row['fast_vs_encode_batch']:>10.2f}x  {sum(want):,} tokens"
          + ("" if info["fast_path"] else "  (no fast path: the engine calls encode)"), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=50, help="corpus size (default 50; other sizes write tokens-quick.json)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the fast path and the batch calls (median)")
    ap.add_argument("--batch-mb", type=float, default=4.0, help="text per encode_batch call (default 4 MB)")
    ap.add_argument("--batch-fast", action="store_true", help="also time encode_batch_fast (adds ~40%% to the run)")
    ap.add_argument("--tokenizers", default=DEFAULT_TOKENIZERS,
                    help=f"comma-separated: demo and/or folders of tests/fixtures/tokenizers "
                         f"(default {DEFAULT_TOKENIZERS})")
    args = ap.parse_args()
    start, load_before = time.perf_counter(), os.getloadavg()
    demo = demo_workspace()
    dataset = generate_corpus(f"corpus{args.mb}", args.mb, demo)
    texts = [p.read_text(encoding="utf-8") for p in sorted(dataset.rglob("*.txt"))]
    size_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"{size_mb:.1f} MB in {len(texts)} files, {args.rounds} round(s), encode_batch on {args.batch_mb:g} MB "
          f"batches, {os.cpu_count()} CPUs, load average {load_before[0]:.2f}")
    print(f"  {'seconds':28}{'fast path':>9}{'encode_batch':>14}{'encode_batch_fast':>19}{'loop':>8}{'ratio':>11}")
    rows = []
    for name in args.tokenizers.split(","):
        folder = demo / "models" / "base" / "forge-tiny" if name == "demo" else FIXTURES / name
        rows.append(bench_one(name, folder, texts, args.rounds, args.batch_mb, args.batch_fast))
    fast_rows = [r for r in rows if r["fast_path"]] or rows
    compare = {"corpus_mb": round(size_mb, 1), "files": len(texts), "rounds": args.rounds, "batch_mb": args.batch_mb,
               "cpus": os.cpu_count(), "load_before": round(load_before[0], 2),
               "load_after": round(os.getloadavg()[0], 2), "seconds": round(time.perf_counter() - start, 1),
               "tokenizers": rows}
    out_path = RESULTS / ("tokens.json" if args.mb == 50 else "tokens-quick.json")
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    result["encode_batch_compare"] = compare
    for key in ("fast_vs_encode_batch", "fast_vs_encode_batch_fast", "fast_vs_loop"):
        if fast_rows[0][key] is not None:
            result[key] = min(r[key] for r in fast_rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out_path.relative_to(ROOT)} in {compare['seconds']:.0f} s: fast_vs_encode_batch "
          f"{result['fast_vs_encode_batch']} (smallest over the fast-path tokenizers; > 1: the fast path wins)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
