"""Preference preparation (DPO, ORPO): validate pair JSONL, report bad lines by file and line, write clean splits.

Lines are read with ``iter_preference_file`` (the accepted forms are in ``preference.py``) and written in
the ``messages`` form of ``PreferenceRecord.as_json``. The split is by prompt, from a seeded hash of the
conversation before the answer, so every pair of one prompt lands on the same side (a model never sees
in training the prompt it is validated on). Tokens are counted per split for the prompt, the chosen and
the rejected answers: with the model's chat template when it has one (the prompt rendered with the
generation prompt, an answer as what the template adds after it, end-of-turn token included), else as
plain text.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.datasets.ift import MAX_BAD_LINES
from forgellm_tui.core.datasets.kinds import refuse_other_kind
from forgellm_tui.core.datasets.preference import PreferenceRecord, iter_preference_file
from forgellm_tui.core.datasets.types import MANIFEST_FORMAT, MANIFEST_VERSION, BadLine, PrepareCancelled, \
    PrepareOptions, PrepareResult, Progress
from forgellm_tui.core.datasets.write import ShuffledJsonl, seeded_unit
from forgellm_tui.core.errors import DataError
from forgellm_tui.core.tokens import TokenCounter

LINE_HINT = '{"prompt": "...", "chosen": "...", "rejected": "..."} lines'
SPLITS = ("train", "valid", "test")


def preference_files(source: Path) -> list[Path]:
    """The JSONL files of ``source`` (a file or a folder), each checked to hold preference pairs."""
    if not source.exists():
        raise DataError("preference data not found", path=source, hint=f"put JSONL files with {LINE_HINT} there")
    files = [source] if source.is_file() else sorted(
        p for p in source.rglob("*.jsonl")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts))
    if not files:
        raise DataError("no .jsonl files", path=source, hint=f"add JSONL files with {LINE_HINT}")
    for path in files:
        refuse_other_kind(path, "preference", ("ift", "cpt"))
    return files


def prompt_key(record: PreferenceRecord) -> str:
    return json.dumps(record.messages, sort_keys=True, ensure_ascii=False)


class PairTokens:
    """Tokens of a pair's prompt and answers: under the chat template when there is one, else as text."""

    def __init__(self, chat, counter: TokenCounter):
        self.counter = counter
        self.chat = chat  # a tokenizer with a chat template, or None

    @classmethod
    def of(cls, tokenizer, model_path: Path | None, counter: TokenCounter) -> "PairTokens":
        """Counting with ``tokenizer`` when it has a chat template, else with ``model_path``'s chat template."""
        if getattr(tokenizer, "chat_template", None) and hasattr(tokenizer, "apply_chat_template"):
            return cls(tokenizer, counter)
        if model_path is not None:
            from forgellm_tui.core.tokens import supervision

            return cls(supervision.load_chat_tokenizer(model_path), counter)
        return cls(None, counter)

    @property
    def how(self) -> str:
        return "chat template" if self.chat is not None else "message contents, no template"

    def count(self, record: PreferenceRecord) -> tuple[int, int, int]:
        """``(prompt, chosen, rejected)`` tokens."""
        if self.chat is None:
            prompt = self.counter.count("\n".join(m["content"] for m in record.messages))
            return prompt, self.counter.count(record.chosen), self.counter.count(record.rejected)
        messages = list(record.messages)
        prompt = self._rendered(messages, True)
        answers = [self._rendered(messages + [{"role": "assistant", "content": text}], False) - prompt
                   for text in (record.chosen, record.rejected)]
        return prompt, max(answers[0], 0), max(answers[1], 0)

    def _rendered(self, messages: list[dict], generation_prompt: bool) -> int:
        return len(self.chat.apply_chat_template(messages, add_generation_prompt=generation_prompt, return_dict=False))


@dataclass
class _Plan:
    """What the first pass learned: how many good pairs, and the prompts moved to a side."""

    good: int
    force_valid: str | None  # the prompt moved to an empty validation split
    force_train: str | None  # the prompt kept out of an all-held-out split


def _bad(result: PrepareResult, bad: BadLine) -> None:
    result.bad_line_count += 1
    if len(result.bad_lines) < MAX_BAD_LINES:
        result.bad_lines.append(bad)


def _is_test(unit: float, options: PrepareOptions) -> bool:
    return options.valid_fraction <= unit < options.valid_fraction + options.test_fraction


def _good_pairs(files: list[Path], result: PrepareResult | None, cancel: threading.Event | None):
    """``(record, prompt key)`` of every good pair; bad lines go to ``result``."""
    for path in files:
        for number, record, why in iter_preference_file(path):
            if cancel is not None and cancel.is_set():
                raise PrepareCancelled()
            if why:
                if result is not None:
                    _bad(result, BadLine(path, number, why))
                continue
            yield record, prompt_key(record)


def _plan(files: list[Path], options: PrepareOptions, result: PrepareResult,
          cancel: threading.Event | None) -> _Plan:
    good = n_valid = n_test = 0
    lowest = highest = None  # (unit, prompt key) of the prompts closest to each side of the split
    for _record, key in _good_pairs(files, result, cancel):
        good += 1
        unit = seeded_unit(options.seed, key)
        n_valid += unit < options.valid_fraction
        n_test += _is_test(unit, options)
        if lowest is None or unit < lowest[0]:
            lowest = (unit, key)
        if highest is None or unit > highest[0]:
            highest = (unit, key)
    if good == 0:
        first = result.bad_lines[0] if result.bad_lines else None
        raise DataError("no usable preference pairs", path=first.path if first else options.preference_path,
                        hint=f"line {first.line}: {first.reason}" if first else f"the files are empty: add {LINE_HINT}")
    two_prompts = lowest[1] != highest[1]
    force_valid = lowest[1] if n_valid == 0 and two_prompts and options.valid_fraction > 0 else None
    force_train = highest[1] if n_valid + n_test == good and two_prompts else None
    return _Plan(good, force_valid, force_train)


def _split_for(key: str, plan: _Plan, options: PrepareOptions) -> str:
    if key == plan.force_train:
        return "train"
    unit = seeded_unit(options.seed, key)
    if unit < options.valid_fraction or key == plan.force_valid:
        return "valid"
    return "test" if _is_test(unit, options) else "train"


def prepare_preference(options: PrepareOptions, progress: Progress | None = None,
                       cancel: threading.Event | None = None) -> PrepareResult:
    start = time.perf_counter()
    options.validate()
    files = preference_files(options.preference_path)
    fsio.ensure_writable_dir(options.output_dir.parent)
    counter = TokenCounter(tokenizer=options.tokenizer, model_path=options.model_path,
                           strict=options.model_path is not None)
    result = PrepareResult(options.output_dir, "preference", tokenizer_used=counter.name, row_overhead=0)
    plan = _plan(files, options, result, cancel)  # pass 1: validate, decide the split
    tokens = PairTokens.of(options.tokenizer, options.model_path, counter)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with fsio.atomic_dir(options.output_dir, replace=True) as tmp:  # pass 2: clean, shuffled splits
        _write_splits(tmp, files, options, plan, tokens, result, progress, cancel)
        result.seconds = round(time.perf_counter() - start, 3)
        fsio.atomic_write_json(tmp / "manifest.json", _manifest(options, counter, tokens, result, plan, files, stamp))
    if progress is not None:
        progress(plan.good, plan.good, "done")
    return result


def _write_splits(tmp: Path, files: list[Path], options: PrepareOptions, plan: _Plan, tokens: PairTokens,
                  result: PrepareResult, progress: Progress | None, cancel: threading.Event | None) -> None:
    total_bytes = sum(p.stat().st_size for p in files)
    shares = {"train": 1.0, "valid": max(options.valid_fraction, 0.05), "test": max(options.test_fraction, 0.05)}
    names = SPLITS if options.test_fraction > 0 else SPLITS[:2]
    writers = {s: ShuffledJsonl(tmp, s, int(total_bytes * shares[s]), options.seed) for s in names}
    counts = {s: {"pairs": 0, "prompt_tokens": 0, "chosen_tokens": 0, "rejected_tokens": 0} for s in names}
    long_count = longest = 0
    for n, (record, key) in enumerate(_good_pairs(files, None, cancel), 1):
        split = _split_for(key, plan, options)
        writers[split].add(json.dumps(record.as_json(), ensure_ascii=False) + "\n")
        prompt, chosen, rejected = tokens.count(record)
        part = counts[split]
        part["pairs"] += 1
        part["prompt_tokens"] += prompt
        part["chosen_tokens"] += chosen
        part["rejected_tokens"] += rejected
        if prompt + max(chosen, rejected) > options.target_tokens:
            long_count, longest = long_count + 1, max(longest, prompt + max(chosen, rejected))
        if progress is not None and n % 500 == 0:
            progress(n, plan.good, f"writing pair {n} of {plan.good}")
    for split, writer in writers.items():
        setattr(result, f"{split}_records", writer.finish(tmp / f"{split}.jsonl"))
        setattr(result, f"{split}_tokens", sum(v for k, v in counts[split].items() if k != "pairs"))
    result.pair_tokens = counts
    result.documents = plan.good
    if "test" in writers and result.test_records == 0:
        result.warnings.append("no test split: too few prompts (add more)")
    if long_count:
        result.warnings.append(
            f"{long_count:,} of {plan.good:,} pairs are longer than the target length of {options.target_tokens:,} "
            f"tokens (prompt + longer answer, longest {longest:,}): training cuts answers at max_seq_length, and a "
            f"pair whose prompt alone fills it is refused — set max_seq_length above {longest:,} or shorten them")


def _manifest(options: PrepareOptions, counter: TokenCounter, tokens: PairTokens, result: PrepareResult,
              plan: _Plan, files: list[Path], stamp: str) -> dict:
    from forgellm_tui.core.datasets.ift import _sha256

    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "kind": "preference", "created_at": stamp,
        "tokenizer": {"name": counter.name, "key": counter.key,
                      "model_path": str(options.model_path) if options.model_path else None},
        "settings": options.settings(), "record_format": "messages",
        "totals": {"records": plan.good, "pairs": plan.good, "train_records": result.train_records,
                   "valid_records": result.valid_records, "train_tokens": result.train_tokens,
                   "valid_tokens": result.valid_tokens, "test_records": result.test_records,
                   "test_tokens": result.test_tokens, "tokens_counted": tokens.how},
        "splits": result.pair_tokens,
        "sources": [{"path": str(p), "sha256": _sha256(p), "bytes": p.stat().st_size} for p in files],
        "bad_lines": [{"path": str(b.path), "line": b.line, "reason": b.reason} for b in result.bad_lines],
        "bad_line_count": result.bad_line_count, "warnings": result.warnings, "seconds": result.seconds,
    }


def preference_file_stats(path: Path, tokens: PairTokens) -> dict:
    """Pairs, bad lines and prompt / chosen / rejected tokens of one preference JSONL file."""
    found = {"pairs": 0, "bad_lines": 0, "prompt_tokens": 0, "chosen_tokens": 0, "rejected_tokens": 0,
             "tokens_counted": tokens.how}
    for _number, record, why in iter_preference_file(Path(path)):
        if why:
            found["bad_lines"] += 1
            continue
        prompt, chosen, rejected = tokens.count(record)
        found["pairs"] += 1
        found["prompt_tokens"] += prompt
        found["chosen_tokens"] += chosen
        found["rejected_tokens"] += rejected
    return found
