"""IFT preparation: validate chat JSONL, report bad lines by file and line, write clean splits.

Accepted lines (mlx-lm's formats): ``{"messages": [{"role", "content"}, ...]}`` (optional
``"tools"``) whose last message is the assistant's reply, and ``{"prompt", "completion"}``. mlx-lm
picks the format from the first row only, so when both appear the prompt/completion rows are written
as a user/assistant conversation (which is what mlx-lm would make of them anyway). The split is by
conversation, from a seeded hash of its content (identical conversations land on the same side).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from forgellm_tui.core import fsio
from forgellm_tui.core.datasets.kinds import refuse_other_kind
from forgellm_tui.core.datasets.preference import is_preference_line
from forgellm_tui.core.datasets.types import MANIFEST_FORMAT, MANIFEST_VERSION, BadLine, PrepareCancelled, PrepareOptions, \
    PrepareResult, Progress
from forgellm_tui.core.datasets.write import ShuffledJsonl, seeded_unit
from forgellm_tui.core.errors import DataError
from forgellm_tui.core.tokens import TokenCounter

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")
MAX_BAD_LINES = 1000


def check_record(obj) -> tuple[str | None, str | None]:
    """``(format, None)`` for a usable record (format "messages" or "completions"), else ``(None, reason)``."""
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    if is_preference_line(obj):
        return None, 'a preference pair ("chosen"/"rejected"), not a conversation — prepare pairs with --kind preference'
    if "messages" in obj:
        msgs = obj["messages"]
        if not isinstance(msgs, list) or not msgs:
            return None, '"messages" must be a non-empty list'
        for k, m in enumerate(msgs):
            if not isinstance(m, dict):
                return None, f"messages[{k}] is not an object"
            if m.get("role") not in ROLES:
                return None, f'messages[{k}]: role {m.get("role")!r} is not one of {", ".join(ROLES)}'
            content = m.get("content")
            if not isinstance(content, str) and not (content is None and m.get("tool_calls")):
                return None, f'messages[{k}]: "content" must be a string'
        last = msgs[-1]
        if last["role"] != "assistant":
            return None, "the last message must be the assistant's reply (the text to learn)"
        if not (last.get("content") or "").strip() and not last.get("tool_calls"):
            return None, "the assistant's reply is empty"
        if not any(m["role"] == "user" for m in msgs):
            return None, "no user message"
        return "messages", None
    if "prompt" in obj or "completion" in obj:
        for key in ("prompt", "completion"):
            if key not in obj:
                return None, f'"{key}" is missing'
            if not isinstance(obj[key], str):
                return None, f'"{key}" must be a string'
        if not obj["completion"].strip():
            return None, '"completion" is empty'
        return "completions", None
    if "text" in obj:
        return None, '"text" lines are CPT data; IFT needs "messages" or "prompt" + "completion"'
    keys = ", ".join(list(obj)[:5]) or "none"
    return None, f'expected "messages" or "prompt" + "completion" (found keys: {keys})'


def clean_record(obj: dict, fmt: str, out_format: str) -> dict:
    if fmt == "messages":
        rec = {"messages": [{k: m[k] for k in MESSAGE_KEYS if k in m} for m in obj["messages"]]}
        if obj.get("tools"):
            rec["tools"] = obj["tools"]
        return rec
    if out_format == "messages":
        return {"messages": [{"role": "user", "content": obj["prompt"]},
                             {"role": "assistant", "content": obj["completion"]}]}
    return {"prompt": obj["prompt"], "completion": obj["completion"]}


def record_text(rec: dict) -> str:
    if "messages" in rec:
        return "\n".join(m.get("content") or "" for m in rec["messages"])
    return rec["prompt"] + "\n" + rec["completion"]


def ift_files(source: Path) -> list[Path]:
    if not source.exists():
        raise DataError("IFT data not found", path=source,
                        hint='put JSONL files with {"messages": [...]} or {"prompt", "completion"} lines there')
    if source.is_file():
        return [source]
    files = sorted(p for p in source.rglob("*.jsonl")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts))
    if not files:
        raise DataError("no .jsonl files", path=source,
                        hint='add JSONL files with {"messages": [...]} or {"prompt", "completion"} lines')
    return files


def read_records(files: list[Path], result: PrepareResult | None) -> Iterator[tuple[int, int, dict, str]]:
    """``(file index, line number, record, format)`` of every good line; bad ones go to ``result``."""
    for fi, path in enumerate(files):
        try:
            fh = open(path, "rb")
        except OSError as exc:
            if result is not None:
                _bad(result, BadLine(path, 0, f"cannot read ({exc.strerror})"))
            continue
        with fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    reason = "not UTF-8 text — re-save the file as UTF-8"
                except json.JSONDecodeError as exc:
                    reason = f"not valid JSON ({exc.msg} at column {exc.colno})"
                else:
                    fmt, reason = check_record(obj)
                    if fmt is not None:
                        yield fi, lineno, obj, fmt
                        continue
                if result is not None:
                    _bad(result, BadLine(path, lineno, reason))


def jsonl_supervision(path: Path, tokenizer, max_seq_length: int):
    """The ``Supervision`` of the good IFT records of one JSONL file (None when it has none)."""
    from forgellm_tui.core.tokens import supervision

    rows = [clean_record(obj, fmt, fmt) for _, _, obj, fmt in read_records([Path(path)], None)]
    return supervision.count(rows, tokenizer, max_seq_length) if rows else None


def _bad(result: PrepareResult, bad: BadLine) -> None:
    result.bad_line_count += 1
    if len(result.bad_lines) < MAX_BAD_LINES:
        result.bad_lines.append(bad)


def prepare_ift(options: PrepareOptions, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> PrepareResult:
    start = time.perf_counter()
    options.validate()
    files = ift_files(options.ift_path)
    for path in files:  # a file of preference pairs is refused whole: its every line would be "bad"
        refuse_other_kind(path, "ift", ("preference",))
    fsio.ensure_writable_dir(options.output_dir.parent)
    counter = TokenCounter(tokenizer=options.tokenizer, model_path=options.model_path,
                           strict=options.model_path is not None)
    result = PrepareResult(options.output_dir, "ift", tokenizer_used=counter.name, row_overhead=0)
    plan = _plan_split(files, options, result, cancel)  # pass 1: validate, learn the formats, decide the split
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with fsio.atomic_dir(options.output_dir, replace=True) as tmp:  # pass 2: clean, shuffled splits
        _write_splits(tmp, files, options, plan, counter, result, progress, cancel)
        token_ids = _count_supervision(tmp, options, result, progress) if options.model_path is not None else {}
        result.seconds = round(time.perf_counter() - start, 3)
        manifest = _manifest(options, counter, result, plan, files, stamp)
        if token_ids:
            manifest["token_ids"] = token_ids
        fsio.atomic_write_json(tmp / "manifest.json", manifest)
    if progress is not None:
        progress(plan.good, plan.good, "done")
    return result


@dataclass
class _SplitPlan:
    """What the first pass learned: good records, the output format, and the records forced to a side."""

    good: int
    out_format: str
    force_valid: tuple[int, int] | None  # (file index, line) of the one record moved to an empty validation split
    force_train: tuple[int, int] | None  # (file index, line) of the one record kept out of an all-held-out split


def _unit(options: PrepareOptions, obj: dict, fmt: str) -> float:
    """The record's seeded place in [0, 1): below ``valid_fraction`` validation, then a band for the test split."""
    return seeded_unit(options.seed, json.dumps(clean_record(obj, fmt, fmt), sort_keys=True))


def _plan_split(files: list[Path], options: PrepareOptions, result: PrepareResult,
                cancel: threading.Event | None) -> _SplitPlan:
    formats: set[str] = set()
    good = n_valid = n_test = 0
    lowest = highest = None  # (unit, key) of the records closest to each side of the split
    for fi, lineno, obj, fmt in read_records(files, result):
        if cancel is not None and cancel.is_set():
            raise PrepareCancelled()
        formats.add(fmt)
        good += 1
        unit = _unit(options, obj, fmt)
        n_valid += unit < options.valid_fraction
        n_test += _is_test(unit, options)
        if lowest is None or unit < lowest[0]:
            lowest = (unit, (fi, lineno))
        if highest is None or unit > highest[0]:
            highest = (unit, (fi, lineno))
    if good == 0:
        first = result.bad_lines[0] if result.bad_lines else None
        raise DataError("no usable IFT records", path=first.path if first else options.ift_path,
                        hint=f"line {first.line}: {first.reason}" if first else "the files are empty")
    force_valid = lowest[1] if n_valid == 0 and good >= 2 and options.valid_fraction > 0 else None
    force_train = highest[1] if n_valid + n_test == good and good >= 2 else None
    out_format = formats.pop() if len(formats) == 1 else "messages"
    if out_format == "messages" and "completions" in formats:
        result.warnings.append("prompt/completion lines were written as user/assistant messages (files mix formats)")
    return _SplitPlan(good, out_format, force_valid, force_train)


def _split_for(unit: float, key: tuple[int, int], plan: _SplitPlan, options: PrepareOptions) -> str:
    if key == plan.force_train:
        return "train"
    if unit < options.valid_fraction or key == plan.force_valid:
        return "valid"
    return "test" if _is_test(unit, options) else "train"


def _write_splits(tmp: Path, files: list[Path], options: PrepareOptions, plan: _SplitPlan, counter: TokenCounter,
                  result: PrepareResult, progress: Progress | None, cancel: threading.Event | None) -> None:
    total_bytes = sum(p.stat().st_size for p in files)
    long_count = longest = 0
    writers = {"train": ShuffledJsonl(tmp, "train", total_bytes, options.seed),
               "valid": ShuffledJsonl(tmp, "valid", int(total_bytes * max(options.valid_fraction, 0.05)),
                                      options.seed)}
    if options.test_fraction > 0:
        writers["test"] = ShuffledJsonl(tmp, "test", int(total_bytes * max(options.test_fraction, 0.05)), options.seed)
    tokens = {"train": 0, "valid": 0, "test": 0}
    for n, (fi, lineno, obj, fmt) in enumerate(read_records(files, None), 1):
        if cancel is not None and cancel.is_set():
            raise PrepareCancelled()
        rec = clean_record(obj, fmt, plan.out_format)
        split = _split_for(_unit(options, obj, fmt), (fi, lineno), plan, options)
        writers[split].add(json.dumps(rec, ensure_ascii=False) + "\n")
        count = counter.count(record_text(rec))
        if count > options.target_tokens:
            long_count, longest = long_count + 1, max(longest, count)
        tokens[split] += count
        if progress is not None and n % 500 == 0:
            progress(n, plan.good, f"writing record {n} of {plan.good}")
    result.train_tokens, result.valid_tokens, result.test_tokens = tokens["train"], tokens["valid"], tokens["test"]
    result.train_records = writers["train"].finish(tmp / "train.jsonl")
    result.valid_records = writers["valid"].finish(tmp / "valid.jsonl")
    if "test" in writers:
        result.test_records = writers["test"].finish(tmp / "test.jsonl")
        if result.test_records == 0:
            result.warnings.append("no test split: too few conversations (add more)")
    result.documents = plan.good
    if long_count:
        result.warnings.append(long_warning(long_count, plan.good, longest, options.target_tokens))


def _count_supervision(tmp: Path, options: PrepareOptions, result: PrepareResult, progress: Progress | None) -> dict:
    """Supervised tokens per split under the model's chat template (every assistant turn, cut at
    ``target_tokens``), a warning per split file whose template is not prefix-stable on some rows, and
    the train/valid token ids with their loss mask stored for training. Returns the manifest's
    ``token_ids`` section (empty without a chat template)."""
    from forgellm_tui.core.tokens import store as token_store
    from forgellm_tui.core.tokens import supervision, tokenize

    tokenizer = supervision.load_chat_tokenizer(options.model_path)
    if tokenizer is None:
        result.warnings.append("the model has no chat template: supervised tokens are not counted")
        return {}
    result.supervision_length = int(options.target_tokens)
    stored = {}
    for split in ("train", "valid", "test"):
        path = tmp / f"{split}.jsonl"
        if not path.is_file():
            continue
        if progress is not None:
            progress(result.documents, result.documents, f"counting supervised tokens of {split}.jsonl")
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        fmt = supervision.row_format(rows[0]) if rows else "chat"  # prepare writes one format per folder
        data = tokenize(rows, fmt, tokenizer, supervision.chat_cfg("assistant"))
        found = supervision.of_rows(data, options.target_tokens)
        result.supervision[split] = found.as_dict()
        if split != "test":
            token_store.write_rows(tmp, split, data)
            stored[split] = data
        if found.unstable:
            result.warnings.append(f"{split}.jsonl: {found.unstable:,} of {found.rows:,} conversations render "
                                   "differently turn by turn under the chat template (it rewrites earlier turns), "
                                   "so only their last assistant turn is trained")
    identity = token_store.tokenizer_identity(options.model_path)
    return token_store.chat_manifest_entry(tmp, identity, "assistant", stored) if identity else {}


def _manifest(options: PrepareOptions, counter: TokenCounter, result: PrepareResult, plan: _SplitPlan,
              files: list[Path], stamp: str) -> dict:
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "kind": "ift", "created_at": stamp,
        "tokenizer": {"name": counter.name, "key": counter.key,
                      "model_path": str(options.model_path) if options.model_path else None},
        "settings": options.settings(), "record_format": plan.out_format,
        "totals": {"records": plan.good, "train_records": result.train_records,
                   "valid_records": result.valid_records, "train_tokens": result.train_tokens,
                   "valid_tokens": result.valid_tokens, "test_records": result.test_records,
                   "test_tokens": result.test_tokens, "tokens_counted": "message contents, no template"},
        "supervision": {"train_on": "assistant", "max_seq_length": result.supervision_length,
                        "splits": result.supervision} if result.supervision else None,
        "sources": [{"path": str(p), "sha256": _sha256(p), "bytes": p.stat().st_size} for p in files],
        "bad_lines": [{"path": str(b.path), "line": b.line, "reason": b.reason} for b in result.bad_lines],
        "bad_line_count": result.bad_line_count, "warnings": result.warnings, "seconds": result.seconds,
    }


def _is_test(unit: float, options: PrepareOptions) -> bool:
    """The test split takes the hash band just above validation's, so validation is the same with or without it."""
    return options.valid_fraction <= unit < options.valid_fraction + options.test_fraction


def long_warning(count: int, total: int, longest: int, target: int) -> str:
    """Conversations longer than the target length: training cuts them at max_seq_length, and one whose
    prompt alone is longer has no answer token left to learn from (its loss would be over nothing)."""
    return (f"{count:,} of {total:,} conversations are longer than the target length of {target:,} tokens "
            f"(longest {longest:,}, counted without the chat template): training cuts them at max_seq_length — "
            f"set max_seq_length above {longest:,} or shorten them")


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
