"""Crash-safe file writes. Every file the app writes goes through here.

- ``atomic_write_*``: temp file in the same folder, fsync, rename, fsync the folder. A reader sees
  either the old file or the new one, never half of one.
- ``JsonlAppender`` / ``append_jsonl``: one JSON record a line, flushed (and fsynced) per line, so a
  kill loses at most the line being written; ``read_jsonl`` skips a truncated last line.
- ``atomic_dir``: build a folder under a temporary name and rename it into place when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from forgellm_tui.core.errors import ForgeError

TMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _public_mode(path: str | Path, base: int = 0o666) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give them the usual umask-based mode."""
    with contextlib.suppress(OSError):
        os.chmod(path, base & ~_umask())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed and check we can write there; raise a clear ForgeError if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ForgeError(f"cannot create folder ({exc.strerror})", path=folder,
                         hint="choose a folder you can write to") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ForgeError("folder is not writable", path=folder, hint="fix its permissions or choose another folder")
    return folder


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    ensure_writable_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    _public_mode(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "w") -> Iterator[Any]:
    """Stream a large file to a temp name; it appears at ``path`` only if the block succeeds."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    _public_mode(tmp)
    binary = "b" in mode
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


class JsonlAppender:
    """Append JSON records to a file, one per line, flushed and fsynced as they are written."""

    def __init__(self, path: str | Path, *, fsync: bool = True):
        self.path = Path(path)
        ensure_writable_dir(self.path.parent)
        self._fsync = fsync
        self._fh = open(self.path, "a", encoding="utf-8")
        # A previous writer killed mid-line leaves a partial last line: start on a fresh one.
        if self._fh.tell() > 0 and not _ends_with_newline(self.path):
            self._fh.write("\n")

    def append(self, record: dict) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())

    def append_all(self, records: list[dict]) -> None:
        """Several records with one flush and one fsync (records that belong together)."""
        self._fh.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def append_jsonl(path: str | Path, record: dict) -> None:
    with JsonlAppender(path) as out:
        out.append(record)


def read_json_object(path: str | Path) -> dict | None:
    """The JSON object in ``path``; None when the file is missing, unreadable or holds something else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_jsonl(path: str | Path, *, start: int = 0) -> tuple[list[dict], int]:
    """Read complete JSON lines from byte offset ``start``.

    Returns ``(records, next_offset)``. A last line without a newline (a writer is still writing it,
    or was killed mid-line) and lines that are not JSON objects are skipped, so following a live file
    with ``start=next_offset`` never loses or duplicates a record.
    """
    path = Path(path)
    records: list[dict] = []
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return records, start
    for line in data[: end + 1].splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records, start + end + 1


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name; rename it to ``target`` when the block succeeds.

    With ``replace=True`` an existing ``target`` is swapped out (old one moved aside, then removed),
    so a crash leaves either the old or the new complete folder.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    if target.exists() and not replace:
        raise ForgeError("already exists", path=target, hint="choose another name or delete it first")
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + target.name + ".", dir=target.parent))
    _public_mode(tmp, 0o777)
    try:
        yield tmp
        for child in tmp.rglob("*"):
            if child.is_file():
                with open(child, "rb") as fh:
                    os.fsync(fh.fileno())
        old = None
        if target.exists():
            old = target.with_name(TMP_PREFIX + target.name + ".old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_temp_name(path: str | Path) -> bool:
    """True for the temporary names used above (incomplete artefacts to ignore)."""
    return Path(path).name.startswith(TMP_PREFIX)
