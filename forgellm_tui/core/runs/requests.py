"""Requests to a running run through its folder: ``control.json`` in, ``control-result.json`` out.

Any process (``forgellm-tui control``, the app following a run, a launcher stopping a distributed run)
asks the training loop of a run by writing ``RUN/control.json``: ``{"id", "action", "set", "expires"}``
with ``action`` one of ``ACTIONS`` and ``set`` the settings to change (``action == "set"``). The
file appears whole (written to a temporary name, then linked in place, which fails while an earlier
request is still waiting), so the loop never reads half a request and two requests never overwrite
each other. The loop reads and removes it between steps and answers in ``RUN/control-result.json``
(``{"id", "ok", "message", "iteration"}``). A request the loop did not take before ``expires`` is
withdrawn by its sender and answered ``expired`` if the loop finds it later (a run resumed days after
does not act on an old request).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError

REQUEST = "control.json"
RESULT = "control-result.json"
ACTIONS = ("set", "pause", "resume", "stop", "save")


def send(run_dir: Path, action: str, values: dict | None = None, timeout: float = 30.0) -> str:
    """Queue one request for the run's loop; its id. ForgeError while an earlier request still waits."""
    if action not in ACTIONS:
        raise ForgeError(f"unknown request {action!r}", hint=f"use one of {', '.join(ACTIONS)}")
    run_dir = Path(run_dir)
    request = {"id": uuid.uuid4().hex, "action": action, "set": dict(values or {}), "expires": time.time() + timeout}
    fd, tmp = tempfile.mkstemp(prefix=fsio.TMP_PREFIX + REQUEST + ".", dir=run_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(request, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, run_dir / REQUEST)  # fails when a request is waiting: never overwrite one
        except FileExistsError:
            raise ForgeError("an earlier request has not been taken yet", path=run_dir / REQUEST,
                             hint="wait a moment and send it again") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return request["id"]


def take(run_dir: Path) -> dict | None:
    """The waiting request, removed from the folder (the training loop's side); None when there is none."""
    path = Path(run_dir) / REQUEST
    if not path.exists():
        return None
    request = fsio.read_json_object(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return request if isinstance(request, dict) and isinstance(request.get("id"), str) else None


def expired(request: dict) -> bool:
    expires = request.get("expires")
    return isinstance(expires, (int, float)) and expires < time.time()


def answer(run_dir: Path, request_id: str, ok: bool, message: str, iteration: int | None = None) -> None:
    """The loop's answer to request ``request_id``."""
    fsio.atomic_write_json(Path(run_dir) / RESULT, {"id": request_id, "ok": bool(ok), "message": message,
                                                    "iteration": iteration})


def wait_answer(run_dir: Path, request_id: str, timeout: float, poll: float = 0.1) -> dict | None:
    """The answer to ``request_id``, or None when none came within ``timeout`` seconds (the request is then
    withdrawn, unless the loop took it meanwhile, in which case its answer is waited for a little longer)."""
    deadline = time.monotonic() + timeout
    while True:
        result = _result(run_dir, request_id)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(poll)
    if withdraw(run_dir, request_id):
        return None
    grace = time.monotonic() + 5.0  # taken just now: its answer follows within a step
    while time.monotonic() < grace:
        result = _result(run_dir, request_id)
        if result is not None:
            return result
        time.sleep(poll)
    return None


def withdraw(run_dir: Path, request_id: str) -> bool:
    """Remove request ``request_id`` if it still waits; True when it did (the loop never saw it)."""
    path = Path(run_dir) / REQUEST
    waiting = fsio.read_json_object(path) if path.exists() else None
    if not isinstance(waiting, dict) or waiting.get("id") != request_id:
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        return True
    return False


def _result(run_dir: Path, request_id: str) -> dict | None:
    path = Path(run_dir) / RESULT
    result = fsio.read_json_object(path) if path.exists() else None
    return result if isinstance(result, dict) and result.get("id") == request_id else None
