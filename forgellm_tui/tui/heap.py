"""Garbage collection that stays out of the way of key presses.

Python's cyclic collector runs when enough objects were allocated, and redrawing the screen for a
key press allocates the most: measured with a run training in the app, a full collection (60–300 ms)
landed inside about one key press in ten. While the app runs, only the young generations are
collected automatically (each collection looks at a few thousand objects: well under a millisecond);
full collections are made by a timer, and only while no key was pressed for a moment
(:class:`IdleCollector`). What is alive after start-up and after loading a model is frozen
(:func:`freeze_heap`) so full collections have less to walk.

Collecting the young generations from a timer instead (once a second, with automatic collection
off) was measured at 11–15 ms per collection (max 100 ms) with a run training: a second's worth of
surviving objects at once, a stall that now and then landed inside a key press.
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
    """Owns the collector while the app runs: call :meth:`tick` from a timer every ``TICK_S`` seconds
    and :meth:`key_pressed` on every key."""

    TICK_S = 1.0
    """How often the timer asks whether a full collection is due."""
    FULL_S = 30.0
    """A full collection this often, once the keyboard is quiet."""
    QUIET_S = 1.5
    """Seconds without a key press before a due full collection runs."""
    NEVER = 1 << 30
    """Python's third threshold set this high: the oldest generation is never collected automatically."""

    def __init__(self) -> None:
        self._saved: tuple | None = None
        self._last_full = time.monotonic()
        self._last_key = 0.0

    def start(self) -> None:
        self._saved = (gc.isenabled(), gc.get_threshold())
        young, middle, _old = gc.get_threshold()
        gc.set_threshold(young, middle, self.NEVER)
        gc.enable()

    def stop(self) -> None:
        """Give the collector back: nothing stays frozen after the app."""
        gc.unfreeze()
        if self._saved is not None:
            enabled, thresholds = self._saved
            gc.set_threshold(*thresholds)
            (gc.enable if enabled else gc.disable)()

    def key_pressed(self) -> None:
        self._last_key = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_full >= self.FULL_S and now - self._last_key >= self.QUIET_S:
            self._last_full = now
            gc.collect()
