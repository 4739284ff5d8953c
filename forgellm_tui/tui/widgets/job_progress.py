"""A one-line progress row for a background job (label, bar, detail); hidden while idle."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar


class JobProgress(Horizontal):
    """``Scanning ▇▇▇▇──── 42% 76/180 core/json.txt``. Call :meth:`start`, :meth:`advance`, :meth:`stop`."""

    DEFAULT_CSS = """
    JobProgress { height: 1; display: none; padding: 0 1; }
    JobProgress.-running { display: block; }
    JobProgress > .job-title { width: auto; text-style: bold; padding-right: 1; }
    JobProgress > ProgressBar { width: auto; }
    JobProgress > .job-detail { width: 1fr; color: $text-muted; padding-left: 1; }
    """

    running = reactive(False)
    """True between :meth:`start` and :meth:`stop`."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = title

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="job-title")
        yield ProgressBar(total=None, show_eta=False)
        yield Label("", classes="job-detail")

    def watch_running(self, value: bool) -> None:
        self.set_class(value, "-running")

    def start(self, title: str | None = None, detail: str = "") -> None:
        """Show the row with an indeterminate bar."""
        if title:
            self.query_one(".job-title", Label).update(title)
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one(".job-detail", Label).update(detail)
        self.running = True

    def advance(self, done: int, total: int, detail: str = "") -> None:
        """Set the bar to ``done / total`` (``total <= 0`` keeps it indeterminate)."""
        bar = self.query_one(ProgressBar)
        if total and total > 0:
            bar.update(total=total, progress=done)
        self.query_one(".job-detail", Label).update(detail)

    def stop(self) -> None:
        self.running = False
