"""Token ids stored with prepared data, so that a training run starts without tokenizing again.

``prepare`` already tokenizes every chunk to cut it; it writes those ids next to each split:
``<split>.tokens.bin`` (the ids of every row in the order of ``<split>.jsonl``, little-endian
uint32) and ``<split>.lengths.npy`` (int64, one count per row). A row's ids are exactly what
training makes of ``{"text": ...}``: the tokenizer's own special tokens + the text + EOS.

``manifest.json`` → ``token_ids`` holds the key: the tokenizer's identity (sha256 of its files),
the chunking settings, and the size and mtime of each jsonl the ids belong to. A run uses the ids
only when the key still matches its model's tokenizer and the files, and a sample of rows tokenizes
to the same ids; otherwise it tokenizes the rows itself (and says why).

IFT data (prepared with a model that has a chat template) stores the rendered conversations the same
way plus ``<split>.mask.bin`` (one byte per token: 1 = the loss sees it, every assistant turn), so a
run neither renders the template again nor recomputes the assistant spans turn by turn. Its key also
holds ``train_on``: a run with another ``train_on`` tokenizes itself.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgellm_tui.core import fsio
from forgellm_tui.core.tokens.rows import TokenRows, tokenize

VERSION = 1
FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
         "merges.txt", "added_tokens.json")
#: rows tokenized again at load time and compared with the stored ids
SAMPLE_ROWS = 8


def tokens_path(folder: Path, split: str) -> Path:
    return Path(folder) / f"{split}.tokens.bin"


def lengths_path(folder: Path, split: str) -> Path:
    return Path(folder) / f"{split}.lengths.npy"


def mask_path(folder: Path, split: str) -> Path:
    return Path(folder) / f"{split}.mask.bin"


def tokenizer_identity(model_path: str | Path | None) -> str | None:
    """sha256 over the names and bytes of the tokenizer files of a model folder (None: none there)."""
    if model_path is None:
        return None
    h = hashlib.sha256()
    found = False
    for name in FILES:
        path = Path(model_path) / name
        if path.is_file():
            found = True
            h.update(name.encode() + b"\0")
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            h.update(b"\0")
    return h.hexdigest() if found else None


@dataclass
class IdsWriter:
    """Streams the ids of one split's rows (in file order) to ``<split>.tokens.bin``."""

    folder: Path
    split: str
    lengths: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._writer = fsio.atomic_writer(tokens_path(self.folder, self.split), "wb")
        self._fh = self._writer.__enter__()

    def add(self, rows) -> None:
        for ids in rows:
            self._fh.write(np.asarray(ids, dtype="<u4").tobytes())
            self.lengths.append(len(ids))

    def close(self) -> None:
        self._writer.__exit__(None, None, None)
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(self.lengths, dtype=np.int64))
        fsio.atomic_write_bytes(lengths_path(self.folder, self.split), buffer.getvalue())


def file_key(path: Path) -> dict:
    st = path.stat()
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def manifest_entry(folder: Path, identity: str, template, target_tokens: int, tokens: dict[str, int]) -> dict:
    """The manifest's ``token_ids`` section for the splits written in ``folder``."""
    prefix, suffix, eos = template
    splits = {}
    for split in ("train", "valid"):
        jsonl = Path(folder) / f"{split}.jsonl"
        if jsonl.is_file() and tokens_path(folder, split).is_file():
            splits[split] = {"jsonl": file_key(jsonl), "tokens": tokens[split]}
    return {"version": VERSION, "format": "uint32 ids per row in <split>.tokens.bin, int64 lengths in "
                                          "<split>.lengths.npy", "tokenizer_sha256": identity,
            "row": {"prefix": list(prefix), "suffix": list(suffix), "eos": eos},
            "chunking": {"target_tokens": int(target_tokens)}, "splits": splits}


def write_rows(folder: Path, split: str, data: TokenRows) -> None:
    """Store tokenized conversations: ids, lengths and (when there is one) the loss mask, atomically."""
    fsio.atomic_write_bytes(tokens_path(folder, split), data.flat.astype("<u4").tobytes())
    buffer = io.BytesIO()
    np.save(buffer, data.lengths.astype(np.int64))
    fsio.atomic_write_bytes(lengths_path(folder, split), buffer.getvalue())
    if data.mask is not None:
        fsio.atomic_write_bytes(mask_path(folder, split), data.mask.astype(np.uint8).tobytes())


def chat_manifest_entry(folder: Path, identity: str, train_on: str, stored: dict[str, TokenRows]) -> dict:
    """The manifest's ``token_ids`` section for tokenized conversations (``write_rows``)."""
    splits = {split: {"jsonl": file_key(Path(folder) / f"{split}.jsonl"), "tokens": data.tokens,
                      "unstable": data.unstable} for split, data in stored.items()}
    return {"version": VERSION, "format": "uint32 ids per row in <split>.tokens.bin, int64 lengths in "
                                          "<split>.lengths.npy, one byte per token in <split>.mask.bin "
                                          "(1 = in the loss)", "tokenizer_sha256": identity,
            "train_on": train_on, "splits": splits}


# --------------------------------------------------------------------------- loading

def _empty() -> TokenRows:
    z = np.zeros(0, np.int64)
    return TokenRows(np.zeros(0, np.int32), z, z, z)


def load(folder: Path, model_path: Path, counts: dict[str, int], train_on: str | None = None) -> tuple[dict | None, str]:
    """``({split: TokenRows}, "")`` from the stored ids, or ``(None, why they cannot be used)``.

    ``train_on``: the mask conversations need (None for text rows, which have none)."""
    entry = (fsio.read_json_object(Path(folder) / "manifest.json") or {}).get("token_ids")
    if not isinstance(entry, dict) or entry.get("version") != VERSION or not isinstance(entry.get("splits"), dict):
        return None, ("the prepared data has no stored token ids (prepared without a model's chat template, or "
                      "by an older version)")
    if entry.get("tokenizer_sha256") != tokenizer_identity(model_path):
        return None, "the stored token ids were made with another tokenizer than this model's"
    if entry.get("train_on") != train_on:
        return None, f"the stored token ids were masked for train_on: {entry.get('train_on')}, not {train_on}"
    out = {}
    for split, rows in counts.items():
        info = entry["splits"].get(split)
        if info is None and rows == 0:
            out[split] = _empty()
            continue
        try:
            if info is None or file_key(Path(folder) / f"{split}.jsonl") != info.get("jsonl"):
                return None, f"{split}.jsonl changed since it was prepared"
            lengths = np.load(lengths_path(folder, split))
            flat = np.fromfile(tokens_path(folder, split), dtype=np.uint32).view(np.int32)
        except (OSError, ValueError) as exc:
            return None, f"cannot read the stored token ids of {split} ({exc})"
        if len(lengths) != rows or int(lengths.sum()) != len(flat):
            return None, f"the stored token ids of {split} do not match {split}.jsonl"
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if rows else np.zeros(0, np.int64)
        out[split] = TokenRows(flat, starts, lengths.astype(np.int64), np.zeros(rows, np.int64))
        if train_on is not None:
            why = _add_mask(out[split], folder, split, info)
            if why:
                return None, why
    return out, ""


def _add_mask(data: TokenRows, folder: Path, split: str, info: dict) -> str:
    """Give ``data`` its stored loss mask and prompt offsets (the first masked token); why not, if it fails."""
    try:
        mask = np.fromfile(mask_path(folder, split), dtype=np.uint8).astype(bool)
    except (OSError, ValueError) as exc:
        return f"cannot read the stored loss mask of {split} ({exc})"
    if len(mask) != len(data.flat):
        return f"the stored loss mask of {split} does not match its token ids"
    hits = np.flatnonzero(mask)
    if len(hits):  # the first target at or after each row's start; past the row's end: the row has none
        nxt = np.searchsorted(hits, data.starts)
        first = np.where(nxt < len(hits), hits[np.minimum(nxt, len(hits) - 1)], len(mask))
        data.offsets = np.minimum(first - data.starts, data.lengths).astype(np.int64)
    else:
        data.offsets = data.lengths.copy()
    data.mask, data.unstable = mask, int(info.get("unstable", 0))
    return ""


def sample_matches(data, rows: list[dict], fmt: str, tokenizer, cfg) -> bool:
    """Tokenize a few rows spread over the split the way training does and compare with ``data``."""
    if not rows:
        return True
    picks = sorted({round(k * (len(rows) - 1) / max(1, SAMPLE_ROWS - 1)) for k in range(SAMPLE_ROWS)})
    fresh = tokenize([rows[i] for i in picks], fmt, tokenizer, cfg)
    for j, i in enumerate(picks):
        stored = data.flat[data.starts[i]:data.starts[i] + data.lengths[i]]
        if not np.array_equal(stored, fresh.flat[fresh.starts[j]:fresh.starts[j] + fresh.lengths[j]]):
            return False
        n = int(data.lengths[i])
        if not np.array_equal(data.row_mask(i, n), fresh.row_mask(j, n)) or data.offsets[i] != fresh.offsets[j]:
            return False
    return True


class Rate:
    """Calls ``emit(done, total, per_second, eta_seconds)`` at most every ``every`` seconds, and at the end."""

    def __init__(self, total: int, emit, every: float = 0.5):
        self.total, self.emit, self.every = total, emit, every
        self.start = time.perf_counter()
        self.last = -every

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if done < self.total and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if done and elapsed > 0 else None
        self.emit(done, self.total, rate, (self.total - done) / rate if rate else None)


def load_or_tokenize(folder: Path, model_path: Path, train_rows: list[dict], valid_rows: list[dict], fmt: str,
                     tokenizer, cfg, progress=None, log=None) -> tuple:
    """``(train, valid)`` TokenRows: the ids ``prepare`` stored when they still fit, else tokenized here.

    ``log(message)`` says which (and why the stored ids were not used); ``progress(done, total,
    per_second, eta_seconds)`` follows the tokenizing, in rows.
    """
    log = log or (lambda message: None)
    why = "the rows use other keys than the prepared data's"
    if _stored_keys(fmt, cfg):
        train_on = None if fmt == "text" else cfg.effective_train_on
        stored, why = load(folder, model_path, {"train": len(train_rows), "valid": len(valid_rows)}, train_on)
        if stored is not None:
            if all(sample_matches(stored[s], r, fmt, tokenizer, cfg) for s, r in (("train", train_rows),
                                                                                 ("valid", valid_rows))):
                log(f"using the token ids stored by prepare: {len(train_rows):,} training and {len(valid_rows):,} "
                    f"validation rows, {stored['train'].tokens + stored['valid'].tokens:,} tokens")
                return stored["train"], stored["valid"]
            why = "the stored token ids differ from what this tokenizer makes of the rows"
    log(f"tokenizing {len(train_rows):,} training and {len(valid_rows):,} validation rows: {why}")
    tick = Rate(len(train_rows) + len(valid_rows), progress) if progress is not None else None
    train = tokenize(train_rows, fmt, tokenizer, cfg, progress=tick)
    valid = tokenize(valid_rows, fmt, tokenizer, cfg,
                     progress=None if tick is None else (lambda done: tick(len(train_rows) + done)))
    return train, valid


def _stored_keys(fmt: str, cfg) -> bool:
    """Whether the rows are read with the keys ``prepare`` writes (the stored ids are of those)."""
    if fmt == "text":
        return cfg.text_feature == "text"
    return (cfg.chat_feature, cfg.prompt_feature, cfg.completion_feature) == ("messages", "prompt", "completion")
