"""Thread-safe control of a running training loop (stop, pause, resume, save now, change settings).

Any thread (a UI, a signal handler) calls the public methods; the training loop polls between
steps, so each request takes effect within one step. Other processes ask through the run folder
(``core.runs.requests``): the loop hands each request it finds to ``read_requests``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from forgellm_tui.core.runs import requests
from forgellm_tui.core.runs import stop_cause as causes


class TrainingControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._save = False
        self._max_iterations: int | None = None
        self._extend = 0
        self._changes: list[tuple[str | None, dict]] = []
        self.stop_reason = ""
        self.stop_cause = causes.USER

    # ------------------------------------------------------------------ requests (any thread)
    def stop(self, reason: str = "stopped by user", cause: str = causes.USER) -> None:
        """Finish the current step, save a checkpoint and end the run as ``stopped``.

        ``reason``: for people; ``cause``: the word recorded as ``stop_cause`` (``core/runs/stop_cause.py``).
        The first request decides both."""
        with self._lock:
            if not self._stop.is_set():
                self.stop_reason, self.stop_cause = reason, cause
            self._stop.set()
        self._resume.set()  # a paused loop wakes up to stop

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def save_now(self) -> None:
        """Save a checkpoint after the current step."""
        with self._lock:
            self._save = True

    def set_max_iterations(self, n: int) -> None:
        """Extend or shorten the run (not below the current iteration)."""
        if int(n) < 1:
            raise ValueError("max_iterations must be at least 1")
        with self._lock:
            self._max_iterations = int(n)
            self._extend = 0

    def extend(self, n: int) -> None:
        """Add ``n`` iterations to the current length."""
        with self._lock:
            self._extend += int(n)

    def change(self, values: dict) -> None:
        """Change live settings (``core.training.live``) between the next two steps."""
        with self._lock:
            self._changes.append((None, dict(values)))

    # ------------------------------------------------------------------ state (any thread)
    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    # ------------------------------------------------------------------ for the training loop
    def wait_while_paused(self, timeout: float = 0.2) -> bool:
        """Block up to ``timeout`` s while paused; True when running (or stopping)."""
        return self._resume.wait(timeout)

    def take_save_request(self) -> bool:
        with self._lock:
            requested, self._save = self._save, False
            return requested

    def take_max_iterations(self, current: int) -> int:
        """The run length after pending set/extend requests (``current`` when there are none)."""
        with self._lock:
            value = self._max_iterations if self._max_iterations is not None else current
            value += self._extend
            self._max_iterations, self._extend = None, 0
            return value

    def take_changes(self) -> list[tuple[str | None, dict]]:
        """The settings changes asked for since the last call: ``(folder request id or None, {key: value})``."""
        with self._lock:
            taken, self._changes = self._changes, []
            return taken

    def read_requests(self, run_dir: Path) -> None:
        """Take the request another process left in the run folder (``control.json``), if any.

        Stop, pause, resume and save are answered at once; a settings change is queued for
        ``take_changes`` and answered once applied.
        """
        request = requests.take(run_dir)
        if request is None:
            return
        rid, action = request["id"], request.get("action")
        if requests.expired(request):
            requests.answer(run_dir, rid, False, "the request expired before the run read it")
            return
        if action == "set":
            with self._lock:
                self._changes.append((rid, dict(request.get("set") or {})))
            return
        done = {"stop": (lambda: self.stop(), "stopping after this step (a checkpoint is saved)"),
                "pause": (self.pause, "pausing after this step"), "resume": (self.resume, "resuming"),
                "save": (self.save_now, "saving a checkpoint after this step")}.get(action)
        if done is None:
            requests.answer(run_dir, rid, False, f"unknown request {action!r}")
            return
        done[0]()
        requests.answer(run_dir, rid, True, done[1])
