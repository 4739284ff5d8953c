"""Reading a dataset folder: which files are text, why others are skipped, and text cleaning.

Text files may be gzip-compressed (``ChangeLog.gz``), UTF-16/32 with a byte-order mark, or HTML
(turned into its readable text); see ``text_files``. Links to files and folders are followed; a
dangling link or a link loop is listed as skipped with the reason.

Cleaning (what "normalised" means for CPT): UTF-8 (a BOM is dropped), universal newlines, Unicode
NFC, control characters other than tab/newline removed, trailing spaces removed from each line,
runs of blank lines collapsed to one blank line, no blank lines at the start or end; every line ends
with ``\\n``. It is done block by block (cut at line ends), so a file of any size streams
through in bounded memory.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from forgellm_tui.core import fsio
from forgellm_tui.core.datasets.text_files import BINARY_EXT, GZIP_ERRORS, SNIFF_BYTES, binary_reason, gzip_reason, html_too_large, \
    open_raw, read_html_text, sniff  # noqa: F401 - BINARY_EXT, SNIFF_BYTES, binary_reason: this module's interface

ROOT_CATEGORY = "(root)"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"\n{3,}")
#: characters that would break a table row or a terminal line (and undecodable name bytes)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(name: str) -> str:
    """A file name safe for one table row: control characters escaped (a newline as ``\\n``), bytes
    the file system name did not decode as ``\\xNN``."""
    def escape(match: re.Match) -> str:
        ch = match.group()
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: an undecodable byte of the name
            return f"\\x{code - 0xDC00:02x}"
        return _ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

    return _UNPRINTABLE.sub(escape, name)


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


def _link_reason(path: Path, exc: OSError) -> str:
    """Why a file entry could not be opened, naming dangling links and link loops."""
    if exc.errno == errno.ELOOP:
        return "link loop (the link leads back to itself) — remove the link"
    if path.is_symlink() and exc.errno == errno.ENOENT:
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"dangling link (its target {printable(target)} does not exist) — remove it or restore the target"
    return f"cannot read ({exc.strerror}) — check the file"


def _inside(real: str, folder_real: str) -> bool:
    return real == folder_real or real.startswith(folder_real.rstrip(os.sep) + os.sep)


def _link_target_reason(path: Path, root_real: str, here_real: str, walked: set[str]) -> str | None:
    """None when a link should be followed; else why not. A link to something inside the dataset is
    not followed (that file or folder is read where it is), so nothing is read twice."""
    real = os.path.realpath(path)
    if path.is_dir() and _inside(here_real, real):
        return "link loop (the link leads to a folder that contains it) — not followed"
    if _inside(real, root_real):
        shown = printable(os.path.relpath(real, root_real))
        return f"link to {shown}, which is read where it is"
    if real in walked:
        return "link to a folder already read through another link — not read twice"
    return None


def walk_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[SourceFile | SkippedFile]:
    """Files under ``root`` in sorted order; hidden files/folders and temp names are ignored.

    Links to files and folders outside ``root`` are followed (each folder once); a link to
    something inside ``root``, a link loop and a dangling link come out as ``SkippedFile`` with
    the reason.
    """
    exclude = set(exclude)
    root_real = os.path.realpath(root)
    walked: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        here_real = os.path.realpath(folder)
        top = here == root
        keep = []
        for d in sorted(dirs):
            if d.startswith(".") or d == "__pycache__" or (top and d in exclude):
                continue
            path = here / d
            if path.is_symlink():
                reason = _link_target_reason(path, root_real, here_real, walked)
                if reason:
                    yield SkippedFile(path, path.relative_to(root).as_posix(), reason)
                    continue
                walked.add(os.path.realpath(path))
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if name.startswith(".") or fsio.is_temp_name(name):
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            try:
                st = path.stat()
            except OSError as exc:
                yield SkippedFile(path, rel, _link_reason(path, exc))
                continue
            if not path.is_file():
                continue
            reason = _link_target_reason(path, root_real, here_real, walked) if path.is_symlink() else None
            if reason:
                yield SkippedFile(path, rel, reason)
                continue
            yield SourceFile(path, rel, category_of(rel), st.st_size, st.st_mtime_ns)


def decode_error_reason(exc: UnicodeDecodeError, offset: int = 0) -> str:
    encoding = (exc.encoding or "utf-8").lower()
    if encoding.startswith("utf-8") or encoding == "utf8":
        return f"not UTF-8 text (invalid byte at offset {offset + exc.start}) — re-save it as UTF-8"
    return (f"not valid {encoding.upper()} text despite its byte-order mark (invalid bytes at offset "
            f"{offset + exc.start}) — re-save it as UTF-8")


class _Hashing(io.RawIOBase):
    """Reads a file and hashes every byte read (the file's own bytes, before any decompression)."""

    def __init__(self, fh: BinaryIO):
        self.fh, self.hash = fh, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.fh.read(len(buffer))
        self.hash.update(data)
        buffer[:len(data)] = data
        return len(data)

    def digest(self) -> str:
        """The hash of the whole file (reads what a decompressor left unread)."""
        while block := self.fh.read(1 << 20):
            self.hash.update(block)
        return self.hash.hexdigest()


def _check_content(fh: BinaryIO, encoding: str, html: bool) -> str | None:
    """Why the content is not usable text (undecodable, empty, only whitespace), or None."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset, has_text, pieces = 0, False, []
    while True:
        block = fh.read(1 << 20)
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            return decode_error_reason(exc, offset)
        offset += len(block)
        if html:
            pieces.append(text)
            if html_too_large(offset):
                return html_too_large(offset)
        has_text = has_text or bool(text.strip())
        if not block:
            break
    if offset == 0:
        return "empty file"
    if html and has_text:
        from forgellm_tui.core.datasets.html_text import html_to_text

        has_text = bool(html_to_text("".join(pieces)).strip())
    return None if has_text else ("no text in the HTML (only markup)" if html else "only whitespace")


def check_file(path: Path) -> tuple[str | None, str]:
    """``(reason, sha256 of the file's bytes)``: reason is None for a usable text file.

    Reads in bounded blocks (an HTML file is converted whole, up to ``HTML_MAX_BYTES``).
    """
    kind, reason = sniff(path)
    if reason:
        return reason, ""
    try:
        with open(path, "rb") as raw:
            hashing = _Hashing(raw)
            with open_raw(path, io.BufferedReader(hashing)) as fh:
                reason = _check_content(fh, kind.encoding, kind.html)
            digest = hashing.digest()
    except GZIP_ERRORS as exc:
        return gzip_reason(exc), ""
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc}) — check its permissions", ""
    return (reason, "") if reason else (None, digest)


def _cut_blocks(chunks: Iterable[str], block_chars: int) -> Iterator[str]:
    """Re-cut text into blocks of about ``block_chars`` characters, each ending after a newline."""
    rest = ""
    for data in chunks:
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


def iter_text_blocks(path: Path, block_chars: int = 1 << 20) -> Iterator[str]:
    """Decoded text (universal newlines, BOM dropped, ``.gz`` decompressed, HTML turned into text) in
    blocks of about ``block_chars`` characters, each cut after a newline (a line longer than a
    block is cut where the block ends). Raises ValueError for a file that is not text."""
    kind, reason = sniff(path)
    if reason:
        raise ValueError(reason)
    if kind.html:
        text = read_html_text(path, kind)
        yield from _cut_blocks((text[i:i + block_chars] for i in range(0, len(text), block_chars)), block_chars)
        return
    with io.TextIOWrapper(open_raw(path), encoding=kind.encoding, errors="strict", newline=None) as fh:
        yield from _cut_blocks(iter(lambda: fh.read(block_chars), ""), block_chars)


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
    """The start of a file for display (the text it gives: decompressed, decoded, HTML as text);
    a short note (never an exception) when it is not text."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"[cannot read {path.name}: {exc.strerror}]"
    kind, reason = sniff(path)
    if reason:
        return f"[{path.name}: {reason}; {size:,} bytes — no preview]"
    try:
        if kind.html:
            text = read_html_text(path, kind)
        else:
            with io.TextIOWrapper(open_raw(path), encoding=kind.encoding, errors="strict", newline=None) as fh:
                text = fh.read(max_chars + 1)
    except UnicodeDecodeError as exc:
        return f"[{path.name}: {decode_error_reason(exc)} — no preview]"
    except GZIP_ERRORS as exc:
        return f"[{path.name}: {gzip_reason(exc)}]"
    except (OSError, ValueError) as exc:
        return f"[{path.name}: {exc} — no preview]"
    if not text.strip():
        return f"[{path.name}: empty]"
    if len(text) > max_chars:
        return text[:max_chars].rstrip() + "\n… (preview truncated)"
    return text
