"""Short human-readable numbers for narrow terminal columns (no Textual, no I/O)."""

from __future__ import annotations

import math


def human_size(n: int | float | None) -> str:
    """Bytes as ``812B``, ``12.3K``, ``4.1M``, ``2.0G``."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
        value /= 1024
    return f"{value:.0f}T"  # pragma: no cover


def human_count(n: int | float | None) -> str:
    """Counts as ``950``, ``2.5k``, ``310k``, ``1.2M``."""
    if n is None:
        return "—"
    value = float(n)
    if abs(value) < 1000:
        return f"{int(value)}"
    for unit in ("k", "M", "B"):
        value /= 1000
        if abs(value) < 1000 or unit == "B":
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return f"{value:.0f}B"  # pragma: no cover


def grouped(n: int | None) -> str:
    """An exact count with thousands separators: ``1,234,567``."""
    return "—" if n is None else f"{n:,}"


def short_path(path, home: str | None = None) -> str:
    """A path with the home folder shown as ``~``."""
    import os

    text = str(path)
    home = home if home is not None else os.path.expanduser("~")
    if home and home != "/" and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text


def rel_path(path, workspace) -> str:
    """``path`` relative to the workspace when inside it (``models/cpt/run``), else :func:`short_path`."""
    from pathlib import Path

    try:
        return Path(path).relative_to(workspace).as_posix()
    except ValueError:
        return short_path(path)


def clock(seconds: float | None, unknown: str = "—") -> str:
    """A duration as ``1:02:03`` or ``2:03``; ``unknown`` when missing or not finite."""
    if seconds is None or not math.isfinite(seconds):
        return unknown
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_line(event) -> str:
    """A ``core.events.Progress`` as ``tokenizing: 12,288/51,065 rows (24%) · 2,345 rows/s · ETA 0:16``."""
    pct = 100 * event.done / event.total if event.total else 100.0
    rate = f" · {event.per_second:,.0f} {event.unit}/s" if event.per_second else ""
    eta = f" · ETA {clock(event.eta_seconds, unknown='--:--')}" if event.done < event.total else " · done"
    return f"{event.task}: {event.done:,}/{event.total:,} {event.unit} ({pct:.0f}%){rate}{eta}"
