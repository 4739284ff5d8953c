"""CPT preparation: clean text, chunk it by the model's tokens, split by document, mix general text.

Every chunk holds at most ``target_tokens`` tokens of the model's tokenizer, counted exactly as
``tokenizer.encode(chunk, add_special_tokens=False)`` counts them (chunks are cut on token/pre-token
boundaries of the cleaned text and each count is checked on the chunk alone). Chunks pack
consecutive text of one document, so all but a document's last chunk are full or within a few
tokens of full. Joining a document's chunks gives back its cleaned text: nothing lost or repeated.

mlx-lm turns each ``{"text": ...}`` row into ``encode(text)`` (+ the tokenizer's BOS, if it adds
one) + EOS. So choose ``target_tokens = max_seq_length - row_overhead`` (``row_overhead`` = 1 for
the demo model, 2 for tokenizers that add a BOS) and no row is ever truncated; the manifest records
``row_overhead`` and ``max_seq_length_needed``.
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
from forgellm_tui.core.datasets.io import SkippedFile, check_file, clean_blocks, iter_text_blocks, printable, walk_files
from forgellm_tui.core.datasets.types import MANIFEST_FORMAT, MANIFEST_VERSION, PrepareCancelled, PrepareOptions, \
    PrepareResult, Progress
from forgellm_tui.core.datasets.write import ShuffledJsonl, choose_test, choose_valid, seeded_unit
from forgellm_tui.core.errors import DataError, ModelError
from forgellm_tui.core.tokens import TokenCounter

BLOCK_CHARS = 1 << 20
#: JSON lines are larger than the text they hold (escapes, metadata): used to size the shuffle buckets.
OUTPUT_FACTOR = 1.6
PROGRESS_TOTAL = 1000
CHECK_SHARE = 0.1


@dataclass
class Document:
    path: Path
    rel: str
    label: str  # the "source" written into each record, e.g. dataset/core/x.txt
    size: int
    sha256: str
    role: str  # "domain" | "general"


def _label(path: Path, dataset_dir: Path) -> str:
    """The records' source, printable: undecodable bytes of a name cannot be written as UTF-8."""
    try:
        return printable(path.resolve().relative_to(dataset_dir.resolve().parent).as_posix())
    except ValueError:
        return printable(str(path))


def list_documents(root: Path, dataset_dir: Path, role: str, exclude=(), *, progress: Progress | None = None,
                   cancel=None) -> tuple[list[Document], list[SkippedFile]]:
    """Usable text files under ``root`` (read once to check UTF-8 and hash them) and skipped ones."""
    docs: list[Document] = []
    skipped: list[SkippedFile] = []
    found = list(walk_files(root, exclude))
    for k, src in enumerate(found, 1):
        if cancel is not None and cancel.is_set():
            raise PrepareCancelled()
        if isinstance(src, SkippedFile):
            skipped.append(src)
            continue
        if src.path.suffix.lower() == ".jsonl":
            skipped.append(SkippedFile(src.path, src.rel, "JSONL is not used as CPT text — put chat data under ift/"))
            continue
        reason, digest = check_file(src.path)
        if reason:
            skipped.append(SkippedFile(src.path, src.rel, reason))
        else:
            docs.append(Document(src.path, src.rel, _label(src.path, dataset_dir), src.size, digest, role))
        if progress is not None:
            progress(k, len(found), f"checking {src.rel}")
    return docs, skipped


def document_chunks(path: Path, counter: TokenCounter, target: int,
                    cancel: threading.Event | None = None) -> Iterator[tuple[str, int]]:
    """Stream ``(text, tokens)`` chunks of one cleaned document, one block of text at a time."""
    carry = ""
    for block in clean_blocks(iter_text_blocks(path, BLOCK_CHARS)):
        if cancel is not None and cancel.is_set():
            raise PrepareCancelled()
        chunks = counter.chunk(carry + block, target)
        yield from chunks[:-1]
        carry = chunks[-1][0] if chunks else ""
    if carry:
        yield from counter.chunk(carry, target)


def _counter_for(options: PrepareOptions) -> TokenCounter:
    if options.tokenizer is None and options.model_path is None:
        raise DataError("CPT chunks text by the model's tokens: no model chosen",
                        hint="pass --model models/base/<name> (a folder with tokenizer.json)")
    counter = TokenCounter(tokenizer=options.tokenizer, model_path=options.model_path, strict=True,
                           like_mlx_lm=True)
    if not counter.can_chunk:
        raise ModelError(f"cannot chunk by tokens with {counter.name}",
                         path=options.model_path, hint="choose a model with a Hugging Face tokenizer.json")
    return counter


def prepare_cpt(options: PrepareOptions, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> PrepareResult:
    from forgellm_tui.core.tokens import store as token_store  # numpy: only when preparing
    start = time.perf_counter()
    options.validate()
    result = PrepareResult(options.output_dir, "cpt")
    docs, general, counter = _sources(options, result, progress, cancel)
    # the ids of each chunk are kept for training when the tokenizer is the model folder's, loaded as mlx-lm loads it
    identity = token_store.tokenizer_identity(options.model_path) if options.tokenizer is None else None
    store = identity is not None and counter.row_template is not None
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with fsio.atomic_dir(options.output_dir, replace=True) as tmp:
        chunker = _Chunker(tmp, options, counter, result, stamp, store, progress, cancel)
        chunker.write_all(docs, general)
        if progress is not None:
            progress(PROGRESS_TOTAL - 1, PROGRESS_TOTAL, "writing train.jsonl and valid.jsonl")
        chunker.finish()
        if result.train_records == 0:
            raise DataError("no training text left after cleaning", path=options.dataset_dir, hint="add text files")
        result.seconds = round(time.perf_counter() - start, 3)
        manifest = _manifest(options, counter, result, chunker.sources, stamp)
        if store:
            manifest["token_ids"] = token_store.manifest_entry(tmp, identity, counter.row_template,
                                                               options.target_tokens, _stored_tokens(tmp))
        fsio.atomic_write_json(tmp / "manifest.json", manifest)
    if progress is not None:
        progress(PROGRESS_TOTAL, PROGRESS_TOTAL, "done")
    return result


def _sources(options: PrepareOptions, result: PrepareResult, progress: Progress | None,
             cancel: threading.Event | None) -> tuple[list[Document], list[Document], TokenCounter]:
    """``(domain documents, general documents, counter)``; skipped files and warnings go to ``result``."""
    dataset = options.dataset_dir
    if not dataset.is_dir():
        raise DataError("dataset folder not found", path=dataset,
                        hint="create it with category folders of .txt/.md files, or pass --dataset")
    fsio.ensure_writable_dir(options.output_dir.parent)
    # progress is one scale of PROGRESS_TOTAL steps: checking files is the first 10%, chunking the rest
    check_progress = None if progress is None else (
        lambda done, total, msg: progress(int(CHECK_SHARE * PROGRESS_TOTAL * done / max(1, total)), PROGRESS_TOTAL, msg))
    docs, skipped = list_documents(dataset, dataset, "domain", options.exclude, progress=check_progress,
                                   cancel=cancel)
    result.skipped.extend(skipped)
    if not docs:
        hint = f"{len(skipped)} file(s) skipped, e.g. {skipped[0].rel}: {skipped[0].reason}" if skipped else \
            "put .txt or .md files in category folders such as core/"
        raise DataError("no usable text files for CPT", path=dataset, hint=hint)
    counter = _counter_for(options)
    result.tokenizer_used, result.row_overhead = counter.name, counter.row_overhead()
    general: list[Document] = []
    general_dir = options.general_path
    if options.mix_ratio < 1.0:
        if general_dir.is_dir():
            general, gskipped = list_documents(general_dir, dataset, "general", cancel=cancel)
            result.skipped.extend(gskipped)
        if not general:
            result.warnings.append(f"no general text in {general_dir}: nothing mixed in (mix ratio ignored)")
    if len(docs) < 2 and options.valid_fraction > 0:
        result.warnings.append("only one document: no validation split (add more files)")
    return docs, general, counter


def _splits(docs: list[Document], options: PrepareOptions) -> tuple[set[str], set[str]]:
    """The documents (by ``rel``) of the validation and the test split; the others train."""
    sizes = [(d.rel, d.size) for d in docs]
    valid = choose_valid(sizes, options.valid_fraction, options.seed)
    return valid, choose_test(sizes, options.test_fraction, options.seed, valid)


class _Chunker:
    """Writes documents as chunks to the shuffled split writers; counts tokens, sources and progress."""

    def __init__(self, tmp: Path, options: PrepareOptions, counter: TokenCounter, result: PrepareResult, stamp: str,
                 store: bool, progress: Progress | None, cancel: threading.Event | None):
        self.tmp, self.options, self.counter, self.result, self.stamp = tmp, options, counter, result, stamp
        self.store, self.progress, self.cancel = store, progress, cancel
        self.target = int(options.target_tokens)
        self.tokens = {"train": 0, "valid": 0, **({"test": 0} if options.test_fraction > 0 else {})}
        self.sources: list[dict] = []
        self.total_bytes = self.done = 0
        self.writers: dict[str, ShuffledJsonl] = {}

    def write_all(self, docs: list[Document], general: list[Document]) -> None:
        options, tmp = self.options, self.tmp
        self.total_bytes = sum(d.size for d in docs) + sum(d.size for d in general)
        expected = int(self.total_bytes * OUTPUT_FACTOR)
        self.writers = {"train": ShuffledJsonl(tmp, "train", expected, options.seed, with_ids=self.store),
                        "valid": ShuffledJsonl(tmp, "valid", int(expected * max(options.valid_fraction, 0.05)),
                                               options.seed, with_ids=self.store)}
        if "test" in self.tokens:  # the test split is read only by evaluation, which tokenizes it itself
            self.writers["test"] = ShuffledJsonl(tmp, "test", int(expected * max(options.test_fraction, 0.05)),
                                                 options.seed)
        valid_docs, test_docs = _splits(docs, options)
        for doc in docs:
            self.write(doc, _split_of(doc.rel, valid_docs, test_docs), None)
        self.result.documents = len(docs)
        if general:
            self.mix_general(general)

    def mix_general(self, general: list[Document]) -> None:
        """General text up to its share of each split's tokens (``1 - mix_ratio``), in a seeded order."""
        options, tokens, result = self.options, self.tokens, self.result
        valid_general, test_general = _splits(general, options)
        domain = dict(tokens)
        share = (1.0 - options.mix_ratio) / options.mix_ratio
        quota = {split: domain[split] * share for split in domain}
        for doc in sorted(general, key=lambda d: seeded_unit(options.seed, "general:" + d.rel)):
            split = _split_of(doc.rel, valid_general, test_general)
            if tokens[split] < domain[split] + quota[split]:
                self.write(doc, split, domain[split] + quota[split])
        wanted = 1.0 - options.mix_ratio
        got = result.general_tokens / max(1, sum(tokens.values()))
        if got < wanted - 0.02:
            result.warnings.append(f"general text is short: {got:.0%} of tokens instead of {wanted:.0%} "
                                   f"(add more files to {options.general_path.name}/)")

    def write(self, doc: Document, split: str, quota: float | None) -> None:
        """The chunks of one document into ``split`` (until the split holds ``quota`` tokens, when given)."""
        n_chunks = n_tokens = 0
        for text, n in document_chunks(doc.path, self.counter, self.target, self.cancel):
            if quota is not None and self.tokens[split] >= quota:
                break
            record = {"text": text, "metadata": {"source": doc.label, "chunk_id": n_chunks, "tokens": n,
                                                 "processed_at": self.stamp}}
            line = json.dumps(record, ensure_ascii=False) + "\n"
            self.writers[split].add(line, self.counter.row_ids(text) if self.store else None)
            n_chunks += 1
            n_tokens += n
            self.tokens[split] += n
        self.done += doc.size
        if self.progress is not None:
            share = CHECK_SHARE + (1 - CHECK_SHARE) * self.done / max(1, self.total_bytes)
            self.progress(min(PROGRESS_TOTAL - 1, int(share * PROGRESS_TOTAL)), PROGRESS_TOTAL, f"chunked {doc.label}")
        if n_chunks:
            self.sources.append({"path": doc.label, "sha256": doc.sha256, "bytes": doc.size, "role": doc.role,
                                 "split": split, "chunks": n_chunks, "tokens": n_tokens})
            if doc.role == "general":
                self.result.general_records += n_chunks
                self.result.general_tokens += n_tokens

    def finish(self) -> None:
        """Write every split's file (train and valid with their token ids when kept); records and tokens."""
        result, tokens, tmp = self.result, self.tokens, self.tmp
        result.train_records, result.valid_records = (_finish_split(tmp, split, self.writers[split], self.store)
                                                      for split in ("train", "valid"))
        result.train_tokens, result.valid_tokens = tokens["train"], tokens["valid"]
        if "test" in self.writers:
            result.test_records = _finish_split(tmp, "test", self.writers["test"], False)
            result.test_tokens = tokens["test"]
            if result.test_records == 0:
                result.warnings.append("no test split: too few documents (add more files)")


def _split_of(rel: str, valid: set[str], test: set[str]) -> str:
    return "valid" if rel in valid else "test" if rel in test else "train"


def _finish_split(folder: Path, split: str, writer: ShuffledJsonl, store: bool) -> int:
    """Write ``<split>.jsonl`` (and its token ids when they are kept); the number of records."""
    from forgellm_tui.core.tokens import store as token_store  # numpy: only when preparing
    ids = token_store.IdsWriter(folder, split) if store and writer.records else None
    records = writer.finish(folder / f"{split}.jsonl", ids)
    if ids is not None:
        ids.close()
    return records


def _stored_tokens(folder: Path) -> dict[str, int]:
    """Ids stored per split (text + the specials and EOS of each row)."""
    from forgellm_tui.core.tokens import store as token_store  # numpy: only when preparing
    import numpy as np

    out = {}
    for split in ("train", "valid"):
        path = token_store.lengths_path(folder, split)
        out[split] = int(np.load(path).sum()) if path.is_file() else 0
    return out


def _manifest(options: PrepareOptions, counter: TokenCounter, result: PrepareResult, sources: list[dict],
              stamp: str) -> dict:
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "kind": "cpt", "created_at": stamp,
        "tokenizer": {"name": counter.name, "key": counter.key,
                      "model_path": str(options.model_path) if options.model_path else None},
        "settings": options.settings(),
        "chunking": {"target_tokens": int(options.target_tokens), "row_overhead": result.row_overhead,
                     "max_seq_length_needed": int(options.target_tokens) + result.row_overhead,
                     "cleaning": "utf-8, NFC, no control chars, trailing spaces stripped, blank-line runs collapsed",
                     "rows": "shuffled with the seed; metadata.tokens excludes BOS/EOS"},
        "totals": {"documents": result.documents, "train_records": result.train_records,
                   "valid_records": result.valid_records, "train_tokens": result.train_tokens,
                   "valid_tokens": result.valid_tokens, "test_records": result.test_records,
                   "test_tokens": result.test_tokens, "general_records": result.general_records,
                   "general_tokens": result.general_tokens, "general_share": round(result.general_share, 4)},
        "sources": sources,
        "skipped": [{"path": printable(s.rel), "reason": s.reason} for s in result.skipped],
        "warnings": result.warnings,
        "seconds": result.seconds,
    }
