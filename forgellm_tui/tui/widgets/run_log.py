"""The run's log pane: the lines of its ``log.jsonl`` with their local times, wrapped to the pane.

Textual's RichLog wraps a line once, at the width the log has when the line is written; a line
written while the run view was hidden (width 0) came out one character per line. This log keeps its
lines and wraps them again whenever its width changes, and writes nothing while it has no width.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

MAX_LINES = 2000
LEVEL_STYLE = {"warning": "yellow", "error": "bold red"}


def line_text(when: float | None, level: str, message: str) -> Text:
    """``10:31:05 warning: …`` (local time; no time for a line the app wrote itself)."""
    text = Text()
    if when is not None:
        text.append(dt.datetime.fromtimestamp(when).strftime("%H:%M:%S "), style="dim")
    text.append(message if level == "info" else f"{level}: {message}", style=LEVEL_STYLE.get(level, ""))
    return text


class RunLog(RichLog):
    """Call :meth:`add` per log line and :meth:`reset` for another run."""

    def __init__(self, **kwargs) -> None:
        super().__init__(wrap=True, markup=False, max_lines=MAX_LINES, min_width=1, **kwargs)
        self.entries: list[tuple[float | None, str, str]] = []
        """Every line shown: (time, level, message)."""
        self._wrapped_at = 0

    def on_mount(self) -> None:
        self.anchor()  # the newest line stays in view, until the user scrolls up to read

    def add(self, when: float | None, level: str, message: str) -> None:
        self.entries.append((when, level, message))
        if len(self.entries) > MAX_LINES:
            del self.entries[:len(self.entries) - MAX_LINES]
        if self._wrapped_at and self.scrollable_content_region.width == self._wrapped_at:
            self.write(line_text(when, level, message), scroll_end=False)
        else:
            self._rewrap()

    def reset(self) -> None:
        self.entries.clear()
        self.clear()
        self.anchor()

    def on_resize(self, event: Resize) -> None:
        if event.size.width:
            self._size_known = True  # (RichLog's own handler, which runs after this one, would wait for it)
        if self.scrollable_content_region.width != self._wrapped_at:
            self._rewrap()

    def _rewrap(self) -> None:
        """Write every line again at the current width (none while the pane is hidden)."""
        width = self.scrollable_content_region.width
        if width <= 0 or not self._size_known:
            self._wrapped_at = 0
            return
        self._wrapped_at = width
        self.clear()
        for entry in self.entries:
            self.write(line_text(*entry), scroll_end=False)

    @property
    def text(self) -> str:
        """The lines as plain text, unwrapped (tests read it)."""
        return "\n".join(line_text(*entry).plain for entry in self.entries)
