"""Messages of the Training screen's workers, and the buffer that carries engine events to the UI.

The engine may report many times a second. Its ``on_event`` callback (in the training thread) puts
each event in an :class:`EventFeed` and posts :class:`FeedReady`; queued ``FeedReady`` messages
replace each other, and the handler drains the whole feed, so the UI handles a burst at once and no
event (no metrics point) is ever dropped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


class EventFeed:
    """A thread-safe list of engine events: ``put`` from the training thread, ``drain`` on the UI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list = []

    def put(self, item) -> None:
        with self._lock:
            self._items.append(item)

    def drain(self) -> list:
        with self._lock:
            items, self._items = self._items, []
        return items


@dataclass
class FeedReady(Message):
    """Events are waiting in the run's feed (only the newest of these is handled)."""

    run_id: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedReady) and message.run_id == self.run_id


@dataclass
class RunEnded(Message):
    """``train`` returned (``result``: a RunResult) or refused to start (``error``: one line)."""

    run_id: int
    result: Any = None
    error: str | None = None
    fields: dict = field(default_factory=dict)


@dataclass
class FolderRead(Message):
    """New data of a followed run folder: metrics records, log records and its run.json."""

    run_dir: str
    records: list
    logs: list
    info: dict | None
    alive: bool | None
    reset: bool = False            # metrics.jsonl was rewritten (a resume): start the charts over
    done: bool = False             # the run ended; the follower stopped
    error: str | None = None
    samples: list = field(default_factory=list)   # new samples.jsonl records
    samples_reset: bool = False    # samples.jsonl was rewritten (a resume): ``samples`` is all of it


@dataclass
class DetachStarted(Message):
    """A background run was started: its run folder, or ``error`` when it was refused."""

    run_dir: str | None = None
    error: str | None = None


@dataclass
class EstimateReady(Message):
    """The pre-run estimate for the form's values (``lines``), or why there is none."""

    key: str
    lines: list = field(default_factory=list)
    error: str | None = None
    fields: dict = field(default_factory=dict)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EstimateReady)


@dataclass
class HangupRuns(Message):
    """Runs stopped when the terminal (or the app) went away, newest first (``core.runs.RunInfo``)."""

    runs: list
