"""Garbage collection that stays out of the way of key presses.

Python's cyclic collector runs when enough objects were allocated, and redrawing the screen for a
key press allocates the most: measured with a run training in the app, a full collection (60–300 ms)
landed inside about one key press in ten. While the app runs, automatic collection is off and a timer
collects instead (:class:`IdleCollector`); what is alive after start-up and after loading a model
is frozen (:func:`freeze_heap`) so full collections have less to walk.
"""

from __future__ import annotations

import gc
import time


def freeze_heap() -> None:
    """Move what is alive now (modules, widgets, a loaded model) out of the collector's reach.

    Frozen objects are still freed by reference counting; only cycles among them are never collected.
    """
    gc.freeze()


def release_heap() -> None:
    """Collect what was frozen (a finished run's model) and freeze what is still alive."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class IdleCollector:
    """Owns the collector while the app runs: call :meth:`tick` from a timer every ``YOUNG_S`` seconds."""

    YOUNG_S = 1.0
    """Young generations are collected this often (a few ms)."""
    FULL_S = 30.0
    """A full collection this often."""

    def __init__(self) -> None:
        self._was_enabled = False
        self._last_full = time.monotonic()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def stop(self) -> None:
        """Give the collector back: nothing stays frozen after the app."""
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_full >= self.FULL_S:
            self._last_full = now
            gc.collect()
        else:
            gc.collect(1)
