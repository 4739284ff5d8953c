"""Short human-readable numbers and names for narrow terminal columns, shared by the app and the
headless commands (no Textual, no I/O)."""

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


def duration(seconds: float | None, unknown: str = "—") -> str:
    """A duration in at most six characters: ``42s``, ``13m05s``, ``2h14m``, ``3d04h``.

    Runs last from seconds to days; a clock (``13:05:09``) needs eight columns and a narrow panel cut
    it, so the two largest units are kept. ``unknown`` when missing or not finite.
    """
    if seconds is None or not math.isfinite(seconds):
        return unknown
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{mins:02d}m"
    days, hrs = divmod(hours, 24)
    return f"{days}d{hrs:02d}h"


def middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by an ellipsis in the middle: the start and the end of a run
    name (its model and its counter or date) stay readable and tell runs apart."""
    if width < 1:
        return ""
    if len(text) <= width:
        return text
    if width < 4:
        return text[:width]
    tail = (width - 1) // 2
    return text[:width - 1 - tail] + "…" + text[len(text) - tail:]


def distinct_labels(names: list[str], width: int) -> list[str]:
    """``names`` cut in the middle to ``width``; any still alike get ``#2``, ``#3`` … (a legend or table
    must tell every run apart)."""
    labels = [middle(name, width) for name in names]
    for n, label in enumerate(labels):
        same = [i for i, other in enumerate(labels) if other == label]
        if len(same) > 1 and same[0] == n:
            for count, i in enumerate(same[1:], start=2):
                labels[i] = middle(names[i], width - len(f" #{count}")) + f" #{count}"
    return labels


def progress_line(event) -> str:
    """A ``core.events.Progress`` as ``tokenizing: 12,288/51,065 rows (24%) · 2,345 rows/s · ETA 16s``."""
    pct = 100 * event.done / event.total if event.total else 100.0
    rate = f" · {event.per_second:,.0f} {event.unit}/s" if event.per_second else ""
    eta = f" · ETA {duration(event.eta_seconds, unknown='?')}" if event.done < event.total else " · done"
    return f"{event.task}: {event.done:,}/{event.total:,} {event.unit} ({pct:.0f}%){rate}{eta}"


def error_text(error: BaseException | None) -> str:
    """One line for the user: a ForgeError's own message, else the exception type and text."""
    from forgellm_tui.core.errors import ForgeError

    if error is None:
        return "unknown error"
    if isinstance(error, ForgeError):
        return str(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
