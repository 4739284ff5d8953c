"""How to read a dataset file as text: gzip-compressed files, UTF-8/16/32 by byte-order mark, HTML.

``sniff`` looks at a file's name and its first (decompressed) bytes and says how to read it, or why
it is not text. ``open_raw`` gives its content bytes (decompressing ``.gz`` on the fly), and
``read_html_text`` turns an HTML file into the text a reader sees (``html_text``).

A file with a UTF-16 or UTF-32 byte-order mark is decoded with that encoding (its NUL bytes are
not a sign of binary data). Without a mark, text must be UTF-8.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from forgellm_tui.core.datasets.html_text import html_to_text, is_html

SNIFF_BYTES = 8192
#: an HTML file is converted in memory: larger ones are skipped with a reason
HTML_MAX_BYTES = 64 << 20
BINARY_EXT = {
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".epub", ".mobi", ".rtf",
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".ico", ".heic", ".svgz",
    ".mp3", ".wav", ".flac", ".ogg", ".m4a", ".mp4", ".mov", ".avi", ".mkv", ".webm",
    ".zip", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar",
    ".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt", ".onnx", ".npy", ".npz", ".parquet", ".arrow",
    ".pkl", ".pickle", ".so", ".dll", ".dylib", ".exe", ".o", ".a", ".class", ".jar", ".pyc", ".db", ".sqlite",
    ".woff", ".woff2", ".ttf", ".otf", ".dmg", ".iso",
}
#: longest first: a UTF-32-LE mark starts with the UTF-16-LE one
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: what reading a damaged .gz raises
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


@dataclass(frozen=True)
class TextKind:
    gzip: bool
    encoding: str  # a Python codec that drops the byte-order mark: utf-8-sig, utf-16 or utf-32
    html: bool


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def content_suffix(path: Path) -> str:
    """The suffix of the content: ``.html`` for ``page.html.gz``, ``.tar`` for ``x.tar.gz``."""
    name = path.name.lower()
    return Path(name[:-3]).suffix if name.endswith(".gz") else Path(name).suffix


def bom_encoding(head: bytes) -> str:
    for mark, codec in _BOMS:
        if head.startswith(mark):
            return codec
    return "utf-8-sig"


def binary_reason(path: Path, head: bytes) -> str | None:
    """Why a file (by name, and by its first content bytes) is not text; None when it may be."""
    ext = content_suffix(path)
    if ext in BINARY_EXT:
        shown = ext + (".gz" if is_gzip(path) else "")
        return f"binary file ({shown}) — convert it to plain text (.txt or .md) to use it"
    if bom_encoding(head) == "utf-8-sig" and b"\x00" in head:
        return "binary content (NUL bytes) — only plain-text files are used"
    return None


def gzip_reason(exc: BaseException) -> str:
    detail = str(exc).split("\n")[0] or type(exc).__name__
    return f"not a valid gzip file ({detail}) — decompress it or replace it"


def open_raw(path: Path, fileobj: BinaryIO | None = None) -> BinaryIO:
    """The content bytes of ``path``: decompressed on the fly when it is a ``.gz`` file."""
    if is_gzip(path):
        return gzip.GzipFile(filename=str(path) if fileobj is None else "", mode="rb", fileobj=fileobj)
    return fileobj if fileobj is not None else open(path, "rb")


def sniff(path: Path) -> tuple[TextKind | None, str | None]:
    """``(how to read it, None)`` or ``(None, why it is skipped)``. Reads at most a few KB."""
    reason = binary_reason(path, b"")
    if reason:
        return None, reason
    try:
        with open_raw(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except GZIP_ERRORS as exc:
        return None, gzip_reason(exc)
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc}) — check its permissions"
    reason = binary_reason(path, head)
    if reason:
        return None, reason
    return TextKind(is_gzip(path), bom_encoding(head), is_html(path.name)), None


def html_too_large(size: int) -> str | None:
    if size > HTML_MAX_BYTES:
        return (f"HTML file too large to convert ({size / 2**20:.0f} MB > {HTML_MAX_BYTES >> 20} MB) — "
                "convert it to text first")
    return None


def read_html_text(path: Path, kind: TextKind) -> str:
    """The text of an HTML file (raises UnicodeDecodeError, OSError, or ValueError when too large)."""
    with open_raw(path) as fh:
        data = fh.read(HTML_MAX_BYTES + 1)
    reason = html_too_large(len(data))
    if reason:
        raise ValueError(reason)
    return html_to_text(data.decode(kind.encoding))
