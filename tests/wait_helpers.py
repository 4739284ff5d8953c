"""Waiting for something to happen in tests: poll a condition until a deadline, never a fixed sleep."""

from __future__ import annotations

import time


def _failure(condition, timeout: float, describe) -> AssertionError:
    detail = describe() if callable(describe) else describe
    return AssertionError(f"timed out after {timeout}s waiting for {condition}" + (f": {detail}" if detail else ""))


def wait_until(condition, timeout: float = 90.0, step: float = 0.1, describe=None) -> None:
    """Poll ``condition()`` until it is true; AssertionError after ``timeout`` seconds.

    ``describe`` (a string, or a callable asked only on failure) adds what the failure message should show,
    e.g. the tail of a run's log.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise _failure(condition, timeout, describe)
        time.sleep(step)


async def pilot_wait_until(pilot, condition, timeout: float = 90.0, step: float = 0.1, describe=None) -> None:
    """Let the app run until ``condition()`` is true; AssertionError after ``timeout`` seconds.

    The app keeps processing messages meanwhile: every poll awaits ``pilot.pause``.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise _failure(condition, timeout, describe)
        await pilot.pause(step)
