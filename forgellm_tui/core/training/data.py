"""Training data: read a prepared folder, optionally pack its token rows, and batch deterministically.

Formats (mlx-lm's, detected from the first line): ``{"text"}`` (CPT), ``{"messages"}`` and
``{"prompt", "completion"}`` (IFT). Unlike mlx-lm's ``iterate_batches`` we sort by *token* length
inside shuffled buckets (little padding), never drop the same rows every epoch, count truncated rows
once (a log line, not a print per batch), and the order is a pure function of ``(seed, epoch)`` so a
resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from forgellm_tui.core.datasets import ROLES
from forgellm_tui.core import events as ev
from forgellm_tui.core.config import ConfigFieldError
from forgellm_tui.core.errors import DataError
from forgellm_tui.core.tokens import load_or_tokenize
from forgellm_tui.core.training.setup import load_tokenizer
from forgellm_tui.core.tokens import TokenRows, epoch_order, padded_width, widest_first  # noqa: F401 - served here too



@dataclass
class DataScan:
    folder: Path
    format: str               # "text", "chat" or "completions"
    train_rows: int
    valid_rows: int
    train_tokens: int | None  # from the lines' metadata when every line has it
    valid_tokens: int | None


def detect_format(row: dict, cfg) -> str:
    if cfg.prompt_feature in row and cfg.completion_feature in row:
        return "completions"
    if cfg.chat_feature in row:
        return "chat"
    if cfg.text_feature in row:
        return "text"
    return ""


def read_split(path: Path, cfg, fmt: str | None = None) -> tuple[list[dict], str]:
    """All rows of a jsonl split and its format; DataError naming file and line when one is bad."""
    rows: list[dict] = []
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror})", path=path, hint="check the file's permissions") from None
    with fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"line {n} is not UTF-8 text (byte 0x{raw[exc.start]:02X} at column {exc.start + 1})",
                                path=path, hint="re-save the file as UTF-8, or fix or remove that line") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"line {n} is not valid JSON ({exc.msg})", path=path,
                                hint="fix or remove that line, or prepare the data again") from None
            if not isinstance(row, dict):
                raise DataError(f"line {n} is not a JSON object", path=path, hint="each line must be {...}")
            found = detect_format(row, cfg)
            if fmt is None:
                if not found:
                    raise DataError(f"line {n} has none of the keys '{cfg.text_feature}', '{cfg.chat_feature}' or "
                                    f"'{cfg.prompt_feature}'+'{cfg.completion_feature}'", path=path,
                                    hint="prepare the data with forgellm-tui prepare, or set text_feature/chat_feature")
                fmt = found
            elif found != fmt:
                raise DataError(f"line {n} is {found or 'of an unknown format'} but the first line is {fmt}",
                                path=path, hint="use one format per file")
            _check_row(row, fmt, cfg, path, n)
            rows.append(row)
    return rows, fmt or ""


def _check_row(row: dict, fmt: str, cfg, path: Path, n: int) -> None:
    if fmt == "text":
        ok = isinstance(row[cfg.text_feature], str) and row[cfg.text_feature] != ""
        what = f"'{cfg.text_feature}' must be non-empty text"
    elif fmt == "chat":
        msgs = row[cfg.chat_feature]
        ok = isinstance(msgs, list) and msgs and all(isinstance(m, dict) and "role" in m for m in msgs)
        what = f"'{cfg.chat_feature}' must be a non-empty list of {{role, content}}"
        if ok:
            what = _message_problem(msgs, cfg.chat_feature)
            ok = what is None
    else:
        ok = isinstance(row[cfg.prompt_feature], str) and isinstance(row[cfg.completion_feature], str)
        what = "prompt and completion must be text"
    if not ok:
        raise DataError(f"line {n}: {what}", path=path, hint="fix that line or prepare the data again")


#: the roles chat templates know (as ``prepare`` accepts them); any other makes a template fail or drop it
CHAT_ROLES = ROLES


def _message_problem(msgs: list[dict], key: str) -> str | None:
    """What is wrong with one conversation's messages (None when every message is usable)."""
    for i, msg in enumerate(msgs, 1):
        role, content = msg.get("role"), msg.get("content")
        if role not in CHAT_ROLES:
            return f"'{key}' message {i} has role {role!r} (roles: {', '.join(CHAT_ROLES)})"
        if isinstance(content, str):
            continue
        if content is None and role == "assistant" and msg.get("tool_calls"):
            continue  # an assistant turn that only calls a tool
        return f"'{key}' message {i} ({role}) has content {content!r}, which is not text"
    return None


def _metadata_tokens(rows: list[dict]) -> int | None:
    total = 0
    for row in rows:
        meta = row.get("metadata")
        tokens = meta.get("tokens") if isinstance(meta, dict) else None
        if not isinstance(tokens, int):
            return None
        total += tokens
    return total


def scan_data(folder: Path, cfg) -> tuple[DataScan, list[dict], list[dict]]:
    """Check the prepared folder; returns the scan and the train/valid rows."""
    if not folder.is_dir():
        raise DataError("data folder not found", path=folder,
                        hint="set data: to a prepared folder such as data/cpt-demo (forgellm-tui prepare makes one)")
    train_path = folder / "train.jsonl"
    if not train_path.is_file():
        raise DataError("no train.jsonl in the data folder", path=folder,
                        hint="prepare it first: forgellm-tui prepare (or point data: at a folder with train.jsonl)")
    train, fmt = read_split(train_path, cfg)
    if not train:
        raise DataError("train.jsonl has no examples", path=train_path, hint="prepare the data again with more text")
    valid: list[dict] = []
    if (folder / "valid.jsonl").is_file():
        valid, _ = read_split(folder / "valid.jsonl", cfg, fmt)
    if cfg.is_ift and fmt == "text":
        raise DataError("IFT needs conversations ({\"messages\": [...]}) or prompt/completion lines, "
                        "but this data is plain text", path=train_path,
                        hint="use training_type: cpt for text, or prepare IFT data")
    scan = DataScan(folder, fmt, len(train), len(valid), _metadata_tokens(train), _metadata_tokens(valid))
    return scan, train, valid


def pack(data: TokenRows, seq_len: int) -> TokenRows:
    """Concatenate every row (each already ends with EOS) and cut rows of exactly ``seq_len`` tokens."""
    contiguous = len(data) == 0 or (data.starts[0] == 0 and np.all(data.starts[1:] == np.cumsum(data.lengths)[:-1]))
    order = data.flat if contiguous else np.concatenate([data.flat[s:s + n] for s, n in zip(data.starts, data.lengths)])
    count = len(order) // seq_len
    flat = order[: count * seq_len].astype(np.int32)
    starts = np.arange(count, dtype=np.int64) * seq_len
    mask = None
    if data.mask is not None:  # the loss mask travels with its tokens
        mask = data.mask if contiguous else np.concatenate([data.mask[s:s + n] for s, n in zip(data.starts,
                                                                                                 data.lengths)])
        mask = mask[: count * seq_len]
    return TokenRows(flat, starts, np.full(count, seq_len, np.int64), np.zeros(count, np.int64), mask)


# --------------------------------------------------------------------------- batches

def make_batch(data: TokenRows, idx: np.ndarray, max_seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens[B, W] int32, targets[B, W - 1] bool)`` zero-padded to ``padded_width``; ``targets[b, j]``: the
    loss counts token ``j + 1`` of row b (an answer token within its length)."""
    lens = np.minimum(data.lengths[idx], max_seq_length)
    width = padded_width(int(lens.max()), max_seq_length)
    out = np.zeros((len(idx), width), np.int32)
    targets = np.zeros((len(idx), width), bool)
    for row, i in enumerate(idx):
        n = min(int(lens[row]), width)
        out[row, :n] = data.flat[data.starts[i]:data.starts[i] + n]
        targets[row, :n] = data.row_mask(i, n)
    return out, targets[:, 1:]


def target_tokens(targets: np.ndarray) -> int:
    """Loss-bearing tokens of a batch (what ``masked_loss`` counts)."""
    return int(targets.sum())


def loss_tokens(data: TokenRows, max_seq_length: int) -> int:
    """Loss-bearing tokens of every row once cut to ``max_seq_length`` (as ``target_tokens`` counts them)."""
    return int(data.supervised(max_seq_length).sum())


def check_loss_tokens(cfg, data: TokenRows, path: Path) -> None:
    """DataError when a split that has rows has no token to compute a loss on.

    An IFT answer that starts past ``max_seq_length`` is cut off entirely; a split made only of such
    rows would train on nothing (a loss of 0 that looks perfect).
    """
    if len(data) == 0 or loss_tokens(data, cfg.max_seq_length) > 0:
        return
    if cfg.is_ift and int(data.offsets.min()) >= cfg.max_seq_length:
        raise DataError(f"no answer token fits in max_seq_length={cfg.max_seq_length}: in all {len(data):,} rows the "
                        f"prompt alone is at least that long (shortest prompt {int(data.offsets.min()):,} tokens)",
                        path=path, hint=f"raise max_seq_length above {int(data.offsets.min()):,}, or shorten "
                                        "the conversations and prepare the data again")
    raise DataError(f"no row has a token to learn from within max_seq_length={cfg.max_seq_length} "
                    f"({len(data):,} rows)", path=path,
                    hint="raise max_seq_length, or prepare the data again with longer rows")


class BatchStream:
    """Batches in training order with a resumable position ``(epoch, index)``.

    ``shard=(rank, size)``: each rank of a distributed run gets rows ``rank::size`` of every global
    batch (mlx-lm's ``comm_group`` semantics); the position stays the global batch index.
    ``last_tokens``: loss-bearing tokens of the whole global batch last returned (every rank knows
    it without communication: rows are only truncated to ``max_seq_length``).
    """

    def __init__(self, data: TokenRows, batch_size: int, max_seq_length: int, seed: int,
                 epoch: int = 0, index: int = 0, shard: tuple[int, int] = (0, 1)):
        if len(data) < batch_size:
            raise DataError(f"batch_size {batch_size} is larger than the {len(data)} training examples",
                            hint=f"set batch_size to at most {len(data)}, or prepare more data")
        self.data, self.batch_size, self.max_seq_length, self.seed = data, batch_size, max_seq_length, seed
        self.epoch, self.index, self.shard = epoch, index, shard
        self.last_tokens = 0
        self._order: list[np.ndarray] | None = None
        self._row_targets: np.ndarray | None = None
        self.batches_per_epoch = len(data) // batch_size

    def position(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "batch_size": self.batch_size, "seed": self.seed}

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        if self.index >= self.batches_per_epoch:
            self.epoch, self.index, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = epoch_order(self.data.lengths, self.batch_size, self.seed, self.epoch)
        idx = self._order[self.index]
        self.index += 1
        if self.shard[1] > 1:
            if self._row_targets is None:  # loss-bearing tokens per row, counted once
                self._row_targets = self.data.supervised(self.max_seq_length)
            self.last_tokens = int(self._row_targets[idx].sum())
            idx = idx[self.shard[0]::self.shard[1]]
        return make_batch(self.data, idx, self.max_seq_length)


def validation_batches(data: TokenRows, batch_size: int, max_seq_length: int, num_batches: int,
                       shard: tuple[int, int] = (0, 1)) -> list:
    """Fixed validation batches (-1 = all rows): a fixed random subset, sorted by length, grouped.

    The same rows every evaluation, so validation losses are comparable across a run. With
    ``shard=(rank, size)`` each group keeps rows ``rank::size`` (None where that leaves none), so
    every rank has the same number of entries.
    """
    if len(data) == 0 or num_batches == 0:
        return []
    size = min(batch_size, len(data))
    order = np.random.RandomState(12345).permutation(len(data))
    count = len(data) // size if num_batches < 0 else min(num_batches, len(data) // size)
    order = order[: count * size]
    order = order[np.argsort(data.lengths[order], kind="stable")]
    groups = [order[i:i + size] for i in range(0, len(order), size)]
    if shard[1] > 1:
        groups = [g[shard[0]::shard[1]] for g in groups]
    return [make_batch(data, g, max_seq_length) if len(g) else None for g in groups]


# --------------------------------------------------------------------------- the splits of a run

def tokenized_data(cfg, plan, emit: Callable[[ev.Event], None]):
    """``(train, valid, notes)``: the splits of a preflight ``plan`` as token rows, checked to have
    loss-bearing tokens.

    Runs before the run folder exists, so data that cannot train leaves nothing behind; ``notes``
    (level, line) go to the run's log once it is open (info lines are shown at once through ``emit``).
    """
    notes: list[tuple[str, str]] = []

    def log(message: str) -> None:
        notes.append(("info", message))
        emit(ev.LogLine("info", message))

    tokenizer = plan.tokenizer or load_tokenizer(plan.model_path, cfg)
    if cfg.is_preference:
        from forgellm_tui.core.training.pair_data import tokenized_pairs

        train, valid, more = tokenized_pairs(cfg, plan, tokenizer, log)
        return train, valid, notes + more
    train, valid = load_or_tokenize(
        plan.scan.folder, plan.model_path, plan.train_rows, plan.valid_rows, plan.scan.format, tokenizer, cfg,
        progress=lambda done, total, rate, eta: emit(ev.Progress("tokenizing", done, total, "rows", rate, eta)),
        log=log)
    plan.train_rows = plan.valid_rows = []  # free the raw text
    if cfg.packing:
        train, valid = pack(train, cfg.max_seq_length), pack(valid, cfg.max_seq_length)
        if len(train) < cfg.batch_size:
            raise ConfigFieldError({"batch_size": f"{cfg.batch_size} is larger than the {len(train)} packed rows of "
                                              f"{cfg.max_seq_length} tokens — lower batch_size or max_seq_length"},
                               path=cfg.source)
    for level, line in _supervision_notes(cfg, plan.data_dir, train, valid):
        if level == "info":
            log(line)
        else:
            notes.append((level, line))
    for name, data in (("training", train), ("validation", valid)):
        long = int((data.lengths > cfg.max_seq_length).sum())
        if long:
            notes.append(("warning", f"{long:,} of {len(data):,} {name} sequences are longer than max_seq_length="
                                     f"{cfg.max_seq_length} and are truncated (longest {int(data.lengths.max()):,} "
                                     "tokens); " + ("use packing: true or a larger max_seq_length" if not cfg.is_ift
                                                    else "raise max_seq_length")))
    check_loss_tokens(cfg, train, plan.data_dir / "train.jsonl")
    if cfg.val_batches != 0:
        check_loss_tokens(cfg, valid, plan.data_dir / "valid.jsonl")
    return train, valid, notes


def _supervision_notes(cfg, folder: Path, train: TokenRows, valid: TokenRows) -> list[tuple[str, str]]:
    """What the loss sees of IFT data (a line per split), and a warning per file whose chat template is not
    prefix-stable on some conversations (those train on their last assistant turn only)."""
    if not cfg.is_ift:
        return []
    notes = []
    for split, data in (("train", train), ("valid", valid)):
        if not len(data):
            continue
        seen = loss_tokens(data, cfg.max_seq_length)
        notes.append(("info", f"{split}.jsonl: the loss sees {seen:,} of {data.tokens:,} tokens "
                              f"(train_on: {cfg.effective_train_on}, max_seq_length {cfg.max_seq_length:,})"))
        if data.unstable:
            notes.append(("warning", f"{folder / f'{split}.jsonl'}: {data.unstable:,} of {len(data):,} conversations "
                                     "render differently turn by turn (the chat template rewrites earlier turns, "
                                     "e.g. drops reasoning blocks), so only their last assistant turn is trained "
                                     "— set train_on: last to silence this"))
    return notes
