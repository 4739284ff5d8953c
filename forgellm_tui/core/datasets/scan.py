"""Scan a dataset folder: per-file size, words, lines and tokens, totals per category.

Compressed (``.gz``), UTF-16/32 (with a byte-order mark) and HTML files count as the text they give
(``text_files``). Token counts are cached per file (absolute path + size + mtime + tokenizer fingerprint) in a JSON
file, so a rescan of an unchanged tree reads nothing but ``stat``. Files larger than
``BLOCK_CHARS`` are counted block by block (cut at line ends) in bounded memory.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from forgellm_tui.core import fsio
from forgellm_tui.core.datasets.io import ROOT_CATEGORY, SkippedFile, SourceFile, decode_error_reason, iter_text_blocks, walk_files
from forgellm_tui.core.datasets.text_files import GZIP_ERRORS, gzip_reason, sniff
from forgellm_tui.core.errors import DataError, ForgeError
from forgellm_tui.core.tokens import TokenCounter, count_lines, count_words

#: 2: .gz, UTF-16/32 and HTML files are read as text (version 1 rows said "binary")
CACHE_VERSION = 2
BLOCK_CHARS = 4 << 20
Progress = Callable[[int, int, str], None]


@dataclass
class FileEntry:
    path: Path
    rel: str
    category: str
    size: int
    words: int
    tokens: int
    lines: int
    tokenizer_used: str


@dataclass
class CategoryTotals:
    category: str
    files: int = 0
    size: int = 0
    words: int = 0
    tokens: int = 0


@dataclass
class DatasetScan:
    root: Path
    files: list[FileEntry]
    skipped: list[SkippedFile]
    tokenizer_used: str
    cache_hits: int = 0
    cancelled: bool = False
    note: str = ""  # why the tokenizer chain fell back, if it did

    def totals(self) -> dict[str, CategoryTotals]:
        out: dict[str, CategoryTotals] = {}
        for f in self.files:
            t = out.setdefault(f.category, CategoryTotals(f.category))
            t.files += 1
            t.size += f.size
            t.words += f.words
            t.tokens += f.tokens
        return out

    def total(self) -> CategoryTotals:
        t = CategoryTotals("total")
        for c in self.totals().values():
            t.files, t.size, t.words, t.tokens = t.files + c.files, t.size + c.size, t.words + c.words, t.tokens + c.tokens
        return t


@dataclass
class TokenCache:
    """``{tokenizer key: {absolute path: [size, mtime_ns, words, tokens, lines, skip reason]}}``."""

    path: Path | None
    entries: dict[str, dict[str, list]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, path: Path | None) -> "TokenCache":
        if path is None:
            return cls(None)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("version") == CACHE_VERSION and isinstance(data.get("entries"), dict):
                return cls(Path(path), data["entries"])
        except (OSError, ValueError):
            pass
        return cls(Path(path))

    def get(self, key: str, src: SourceFile) -> list | None:
        row = self.entries.get(key, {}).get(str(src.path))
        if row and row[0] == src.size and row[1] == src.mtime_ns:
            return row
        return None

    def put(self, key: str, src: SourceFile, words: int, tokens: int, lines: int, reason: str | None) -> None:
        self.entries.setdefault(key, {})[str(src.path)] = [src.size, src.mtime_ns, words, tokens, lines, reason]
        self.changed = True

    def prune(self, key: str, root: Path, seen: set[str]) -> None:
        table = self.entries.get(key, {})
        prefix = str(root) + "/"
        for name in [n for n in table if n.startswith(prefix) and n not in seen]:
            del table[name]
            self.changed = True

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        try:
            fsio.atomic_write_json(self.path, {"version": CACHE_VERSION, "entries": self.entries}, indent=None)
        except (OSError, ForgeError):
            pass  # the cache is an optimisation; a read-only workspace still scans
        self.changed = False


def default_cache_path(root: Path) -> Path:
    return root.parent / ".forgellm" / "token-cache.json"


def _count_file(src: SourceFile, counter: TokenCounter) -> tuple[str | None, int, int, int]:
    """``(skip reason, words, tokens, lines)`` for one file (decompressed, decoded, HTML as its text)."""
    kind, reason = sniff(src.path)
    if reason:
        return reason, 0, 0, 0
    blocks = None
    if not (kind.gzip or kind.html) and kind.encoding == "utf-8-sig" and src.size <= BLOCK_CHARS:
        try:  # the common case: one read, one decode
            with open(src.path, "rb") as fh:
                blocks = [fh.read(BLOCK_CHARS + 1).decode("utf-8-sig")]
        except UnicodeDecodeError as exc:
            return decode_error_reason(exc), 0, 0, 0
        except OSError as exc:
            return f"cannot read ({exc.strerror}) — check its permissions", 0, 0, 0
    words = tokens = lines = 0
    try:
        for block in blocks or iter_text_blocks(src.path, BLOCK_CHARS):
            words += count_words(block)
            lines += count_lines(block)
            tokens += counter.count(block)
    except UnicodeDecodeError as exc:
        return decode_error_reason(exc), 0, 0, 0
    except GZIP_ERRORS as exc:
        return gzip_reason(exc), 0, 0, 0
    except OSError as exc:
        return f"cannot read ({exc.strerror}) — check its permissions", 0, 0, 0
    except ValueError as exc:  # an HTML file too large to convert
        return str(exc), 0, 0, 0
    if src.size == 0:
        return "empty file", 0, 0, 0
    if words == 0:
        return ("no text in the HTML (only markup)" if kind.html else "only whitespace"), 0, 0, 0
    return None, words, tokens, lines


def scan_dataset(root: str | Path, *, model_path: str | Path | None = None, tokenizer=None,
                 cache_path: str | Path | None | bool = None, progress: Progress | None = None,
                 cancel: threading.Event | None = None, counter: TokenCounter | None = None) -> DatasetScan:
    """Scan ``root`` recursively. ``cache_path=False`` turns the cache off."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError("dataset folder not found", path=root,
                        hint="create it and put .txt/.md files in category folders (e.g. core/), or choose another")
    root = root.resolve()
    counter = counter or TokenCounter(tokenizer=tokenizer, model_path=model_path)
    cache = TokenCache.load(None if cache_path is False else Path(cache_path or default_cache_path(root)))
    found = list(walk_files(root))
    scan = DatasetScan(root, [], [], counter.name, note=counter.note)
    seen: set[str] = set()
    for done, src in enumerate(found, 1):
        if cancel is not None and cancel.is_set():
            scan.cancelled = True
            break
        if isinstance(src, SkippedFile):
            scan.skipped.append(src)
            continue
        seen.add(str(src.path))
        row = cache.get(counter.key, src)
        if row is not None:
            scan.cache_hits += 1
            reason, words, tokens, lines = row[5], row[2], row[3], row[4]
        else:
            reason, words, tokens, lines = _count_file(src, counter)
            cache.put(counter.key, src, words, tokens, lines, reason)
        if reason:
            scan.skipped.append(SkippedFile(src.path, src.rel, reason))
        else:
            scan.files.append(FileEntry(src.path, src.rel, src.category, src.size, words, tokens, lines, counter.name))
        if progress is not None:
            progress(done, len(found), src.rel)
    if not scan.cancelled:
        cache.prune(counter.key, root, seen)
    cache.save()
    return scan


def file_stats(path: str | Path, counter: TokenCounter) -> FileEntry | SkippedFile:
    """Statistics of one file (not cached), or why it cannot be counted."""
    path = Path(path).expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        return SkippedFile(path, path.name, f"cannot read ({exc.strerror})")
    src = SourceFile(path, path.name, ROOT_CATEGORY, st.st_size, st.st_mtime_ns)
    reason, words, tokens, lines = _count_file(src, counter)
    if reason:
        return SkippedFile(path, path.name, reason)
    return FileEntry(path, path.name, ROOT_CATEGORY, st.st_size, words, tokens, lines, counter.name)
