"""Reading a dataset folder: which files are text, why others are skipped, and text cleaning.

Cleaning (what "normalised" means for CPT): UTF-8 (a BOM is dropped), universal newlines, Unicode
NFC, control characters other than tab/newline removed, trailing spaces removed from each line,
runs of blank lines collapsed to one blank line, no blank lines at the start or end; every line ends
with ``\\n``. It is done block by block (cut at line ends), so a file of any size streams
through in bounded memory.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from . import fsio

ROOT_CATEGORY = "(root)"
SNIFF_BYTES = 8192
BINARY_EXT = {
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".epub", ".mobi", ".rtf",
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".ico", ".heic", ".svgz",
    ".mp3", ".wav", ".flac", ".ogg", ".m4a", ".mp4", ".mov", ".avi", ".mkv", ".webm",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar",
    ".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt", ".onnx", ".npy", ".npz", ".parquet", ".arrow",
    ".pkl", ".pickle", ".so", ".dll", ".dylib", ".exe", ".o", ".a", ".class", ".jar", ".pyc", ".db", ".sqlite",
    ".woff", ".woff2", ".ttf", ".otf", ".dmg", ".iso",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass
class SkippedFile:
    path: Path
    rel: str
    reason: str


@dataclass
class SourceFile:
    """A file found under a dataset folder."""

    path: Path
    rel: str
    category: str
    size: int
    mtime_ns: int


def category_of(rel: str) -> str:
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else ROOT_CATEGORY


def walk_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[SourceFile | SkippedFile]:
    """Files under ``root`` in sorted order; hidden files/folders and temp names are ignored."""
    exclude = set(exclude)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        top = here == root
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__"
                         and not (top and d in exclude))
        for name in sorted(files):
            if name.startswith(".") or fsio.is_temp_name(name):
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            try:
                st = path.stat()
            except OSError as exc:
                yield SkippedFile(path, rel, f"cannot read ({exc.strerror}) — check the file")
                continue
            if not path.is_file():
                continue
            yield SourceFile(path, rel, category_of(rel), st.st_size, st.st_mtime_ns)


def binary_reason(path: Path, head: bytes) -> str | None:
    ext = path.suffix.lower()
    if ext in BINARY_EXT:
        return f"binary file ({ext}) — convert it to plain text (.txt or .md) to use it"
    if b"\x00" in head:
        return "binary content (NUL bytes) — only plain-text files are used"
    return None


def decode_error_reason(exc: UnicodeDecodeError, offset: int = 0) -> str:
    return f"not UTF-8 text (invalid byte at offset {offset + exc.start}) — re-save it as UTF-8"


def check_file(path: Path) -> tuple[str | None, str]:
    """``(reason, sha256)``: reason is None for a usable UTF-8 text file. Reads in bounded blocks."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    offset, has_text = 0, False
    try:
        with open(path, "rb") as fh:
            first = True
            while True:
                block = fh.read(1 << 20)
                if first:
                    reason = binary_reason(path, block[:SNIFF_BYTES])
                    if reason:
                        return reason, ""
                    first = False
                h.update(block)
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    return decode_error_reason(exc, offset), ""
                has_text = has_text or bool(text.strip())
                offset += len(block)
                if not block:
                    break
    except OSError as exc:
        return f"cannot read ({exc.strerror}) — check its permissions", ""
    if offset == 0:
        return "empty file", ""
    if not has_text:
        return "only whitespace", ""
    return None, h.hexdigest()


def iter_text_blocks(path: Path, block_chars: int = 1 << 20) -> Iterator[str]:
    """Decoded text (universal newlines, BOM dropped) in blocks of about ``block_chars`` characters,
    each cut after a newline (a line longer than a block is cut where the block ends)."""
    rest = ""
    with open(path, "r", encoding="utf-8-sig", errors="strict", newline=None) as fh:
        while True:
            data = fh.read(block_chars)
            if not data:
                break
            data = rest + data
            cut = data.rfind("\n") + 1
            if cut == 0 and len(data) < 4 * block_chars:
                rest = data
                continue
            if cut == 0:
                cut = len(data)
            rest = data[cut:]
            yield data[:cut]
    if rest:
        yield rest


class Cleaner:
    """The cleaning in the module doc, applied to the consecutive blocks of one document.

    Blocks must end at line ends (as ``iter_text_blocks`` cuts them; a line longer than a block is
    broken there). Trailing blank lines of a block are held back until more text follows, so blank
    runs across blocks collapse and a document never starts or ends with a blank line.
    """

    def __init__(self) -> None:
        self.started = False
        self.pending_blank = False

    def feed(self, block: str) -> str:
        if not unicodedata.is_normalized("NFC", block):
            block = unicodedata.normalize("NFC", block)
        block = "\n".join([line.rstrip() for line in _CONTROL.sub("", block).split("\n")])
        body = block.strip("\n")
        if not body:  # only blank lines
            self.pending_blank = self.pending_blank or (self.started and bool(block))
            return ""
        lead = len(block) - len(block.lstrip("\n"))
        tail = len(block) - len(block.rstrip("\n"))
        prefix = "\n" if self.started and (self.pending_blank or lead) else ""
        self.started = True
        self.pending_blank = tail >= 2
        return prefix + _BLANK_RUNS.sub("\n\n", body) + "\n"


def clean_blocks(blocks: Iterable[str]) -> Iterator[str]:
    cleaner = Cleaner()
    for block in blocks:
        out = cleaner.feed(block)
        if out:
            yield out


def normalize_text(text: str) -> str:
    """Clean a whole text in memory (the same result as streaming the file block by block)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    return "".join(clean_blocks([text]))


def read_preview(path: str | Path, max_chars: int = 4000) -> str:
    """The start of a file for display; a short note (never an exception) when it is not text."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_chars * 4 + 4)
        size = path.stat().st_size
    except OSError as exc:
        return f"[cannot read {path.name}: {exc.strerror}]"
    reason = binary_reason(path, raw[:SNIFF_BYTES])
    if reason:
        return f"[{path.name}: {reason}; {size:,} bytes — no preview]"
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    try:
        text = decoder.decode(raw, final=len(raw) >= size)
    except UnicodeDecodeError as exc:
        return f"[{path.name}: {decode_error_reason(exc)} — no preview]"
    if not text.strip():
        return f"[{path.name}: empty]"
    if len(text) > max_chars or len(raw) < size:
        return text[:max_chars].rstrip() + "\n… (preview truncated)"
    return text
