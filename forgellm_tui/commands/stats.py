"""``forgellm-tui stats PATH...``: words, lines, pages and tokens of files and folders.

A ``.jsonl`` file listed is labelled with the kind of data it holds (cpt, ift, preference); a preference
file also gets its pairs and prompt / chosen / rejected tokens (under the chat template with a ``--model``
that has one). A folder that ``prepare`` wrote (it has our ``manifest.json``) also gets its kind and
per-split counts from the manifest.

Folders are scanned recursively (with the workspace's token cache). ``.gz`` files count as their
text, HTML as its readable text; files that are not text (binary, not UTF-8 without a byte-order
mark, dangling links …) are listed as skipped with the reason. Exit status: 0 (also when files were
skipped), 2 for bad input (a path that does not exist, a model without a tokenizer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import settings_from

PAIR_KEYS = ("pairs", "bad_lines", "prompt_tokens", "chosen_tokens", "rejected_tokens")


def register(sub) -> None:
    p = sub.add_parser("stats", help="token, word, line and page counts of text files and folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--model", metavar="PATH",
                   help="model folder (or name under models/base) whose tokenizer counts; default: tiktoken "
                        "cl100k_base if cached, else 1.4 x words")
    p.add_argument("--files", action="store_true", help="list every file of a folder, not only category totals")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--max-seq-length", type=int, default=2048, metavar="N",
                   help="IFT .jsonl files (with --model): count supervised tokens lost past N (default 2048)")
    p.set_defaults(handler=run)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run(args) -> int:
    from forgellm_tui.core.datasets import FileEntry, ROOT_CATEGORY, file_stats, printable, scan_dataset
    from forgellm_tui.core.errors import DataError
    from forgellm_tui.core.tokens import WORDS_PER_PAGE, TokenCounter
    from .prepare import resolve_model

    settings = settings_from(args)
    paths = [Path(p).expanduser() for p in args.paths]
    for p in paths:
        if not p.exists():
            raise DataError("not found", path=p, hint="give existing files or folders")
    model = resolve_model(args.model, settings, required=False) if args.model else None
    counter = TokenCounter(model_path=model, strict=model is not None)
    # the token cache lives in a workspace (next to dataset/); elsewhere stats writes nothing
    cache = settings.workspace / ".forgellm" / "token-cache.json" if settings.dataset_dir.is_dir() else False
    rows, skipped, groups = [], [], []
    for p in paths:
        if p.is_dir():
            scan = scan_dataset(p, counter=counter, cache_path=cache)
            skipped += scan.skipped
            groups.append((p, scan))
            if args.files or args.json:
                rows += [(printable(str(p / f.rel)), f) for f in scan.files]
            else:
                rows += [(printable(str(p) if t.category == ROOT_CATEGORY else f"{p}/{t.category}"), t)
                         for t in scan.totals().values()]
        else:
            item = file_stats(p, counter)
            (rows.append((printable(str(p)), item)) if isinstance(item, FileEntry) else skipped.append(item))
    words = sum(getattr(r, "words", 0) for _, r in rows)
    total = {"files": sum(getattr(r, "files", 1) for _, r in rows), "size": sum(r.size for _, r in rows),
             "words": words, "tokens": sum(r.tokens for _, r in rows), "pages": round(words / WORDS_PER_PAGE, 2)}
    sup = _supervision(rows, model, args.max_seq_length) if model is not None else {}
    if sup:
        total["supervision"] = _sum(sup.values())
    extra, prepared = _data_kinds(rows, model, counter), _prepared(paths)
    prefs = {name: e["preference"] for name, e in extra.items() if "preference" in e}
    if prefs:
        total["preference"] = {k: sum(f[k] for f in prefs.values()) for k in PAIR_KEYS}
    if args.json:
        print(json.dumps({
            "tokenizer": counter.name, "note": counter.note,
            "files": [{"path": name, "size": r.size, "words": r.words, "tokens": r.tokens, "lines": r.lines,
                       "pages": round(r.words / WORDS_PER_PAGE, 2), **extra.get(name, {}),
                       **({"supervision": sup[name]} if name in sup else {})} for name, r in rows],
            "skipped": [{"path": printable(str(s.path)), "reason": s.reason} for s in skipped],
            "total": total, **({"prepared": prepared} if prepared else {})}, indent=2))
    else:
        print(f"tokenizer: {counter.name}" + (f"  ({counter.note})" if counter.note else ""))
        width = max([len(n) for n, _ in rows] + [10])
        print(f"{'path':<{width}}  {'files':>6} {'size':>9} {'words':>11} {'tokens':>11} {'pages':>8}")
        for name, r in rows:
            print(f"{name:<{width}}  {getattr(r, 'files', 1):>6} {_size(r.size):>9} {r.words:>11,} {r.tokens:>11,} "
                  f"{r.words / WORDS_PER_PAGE:>8.1f}")
        print(f"{'total':<{width}}  {total['files']:>6} {_size(total['size']):>9} {total['words']:>11,} "
              f"{total['tokens']:>11,} {total['pages']:>8.1f}")
        for name, found in list(sup.items()) + ([("total", total["supervision"])] if sup else []):
            print(f"{name}: {found['supervised']:,} supervised of {found['tokens']:,} templated tokens "
                  f"(every assistant turn), {found['lost']:,} lost past {args.max_seq_length:,}")
        for line in _kind_lines(prefs, prepared):
            print(line)
        if counter.kind == "words":
            print("(estimated: pass --model PATH for exact counts with a model's tokenizer)")
        for s in skipped:
            print(f"skipped {printable(str(s.path))}: {s.reason}", file=sys.stderr)
    return 0


def _supervision(rows, model, max_seq_length: int) -> dict[str, dict]:
    """Per IFT ``.jsonl`` file listed: what the loss sees under the model's chat template (none without one)."""
    from forgellm_tui.core.datasets import jsonl_supervision
    from forgellm_tui.core.tokens import supervision

    files = [name for name, _ in rows if name.endswith(".jsonl") and Path(name).is_file()]
    tokenizer = supervision.load_chat_tokenizer(model) if files else None
    if tokenizer is None:
        return {}
    found = {name: jsonl_supervision(Path(name), tokenizer, max_seq_length) for name in files}
    return {name: f.as_dict() for name, f in found.items() if f is not None}


def _sum(found) -> dict:
    keys = ("rows", "tokens", "supervised", "lost", "unstable")
    found = list(found)
    return {k: sum(f[k] for f in found) for k in keys}


def _data_kinds(rows, model, counter) -> dict[str, dict]:
    """Per ``.jsonl`` file listed: ``{"kind": ...}`` and, for preference pairs, ``{"preference": counts}``."""
    from forgellm_tui.core.datasets import PairTokens, jsonl_kind, preference_file_stats

    out, tokens = {}, None
    for name, _ in rows:
        if not (name.endswith(".jsonl") and Path(name).is_file()):
            continue
        kind, _line = jsonl_kind(Path(name))
        if kind is None:
            continue
        out[name] = {"kind": kind}
        if kind == "preference":
            tokens = tokens or PairTokens.of(None, model, counter)
            out[name]["preference"] = preference_file_stats(Path(name), tokens)
    return out


def _prepared(paths) -> list[dict]:
    """The kind and per-split counts of every folder given that ``prepare`` wrote."""
    from forgellm_tui.core.datasets import MANIFEST_FORMAT, read_manifest

    found = []
    for path in paths:
        manifest = read_manifest(path) if path.is_dir() else None
        if not manifest or manifest.get("format") != MANIFEST_FORMAT:
            continue
        totals = manifest.get("totals") or {}
        entry = {"path": str(path), "kind": manifest.get("kind"),
                 **{k: totals.get(f"{k}_records", 0) for k in ("train", "valid", "test")}}
        if manifest.get("kind") == "preference":
            entry["splits"] = manifest.get("splits") or {}
        found.append(entry)
    return found


def _kind_lines(prefs: dict[str, dict], prepared: list[dict]) -> list[str]:
    lines = [f"{name}: preference pairs: {f['pairs']:,} pairs ({f['bad_lines']:,} bad lines), prompt / chosen / "
             f"rejected tokens {f['prompt_tokens']:,} / {f['chosen_tokens']:,} / {f['rejected_tokens']:,} "
             f"({f['tokens_counted']})" for name, f in prefs.items()]
    for entry in prepared:
        unit = "pairs" if entry["kind"] == "preference" else "records"
        lines.append(f"{entry['path']}: prepared {entry['kind']} data: {entry['train']:,} train / "
                     f"{entry['valid']:,} valid / {entry['test']:,} test {unit}")
        for split, f in entry.get("splits", {}).items():
            lines.append(f"  {split + '.jsonl':<12} prompt / chosen / rejected tokens {f['prompt_tokens']:,} / "
                         f"{f['chosen_tokens']:,} / {f['rejected_tokens']:,}")
    return lines
