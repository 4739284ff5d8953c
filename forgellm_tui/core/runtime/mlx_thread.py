"""A long-lived daemon thread that runs MLX work submitted from any thread, one job at a time, in order.

MLX streams belong to the thread that made them, and MLX arrays made in a short-lived thread can crash
the process at exit. Work that must run in a known thread (the chat's model cache) or beside other such
threads (the evaluation lanes) goes to an ``MLXThread``: it lives as long as the process and, when it
ends (at exit, or ``shutdown``), it collects its garbage and synchronizes MLX first.
"""

from __future__ import annotations

import atexit
import gc
import queue
import sys
import threading
from concurrent.futures import Future
from typing import Any, Callable


class MLXThread:
    """A daemon thread that runs submitted functions one at a time, in order."""

    def __init__(self, name: str = "forgellm-mlx"):
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
                atexit.register(self.shutdown)

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            fut, fn, args, kwargs = item
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to the caller through the future
                    fut.set_exception(exc)
            del item, fut, fn, args, kwargs
        # Free MLX state in this thread before it ends: MLX work left unsynchronised can crash the process at exit.
        gc.collect()
        if "mlx.core" in sys.modules:
            sys.modules["mlx.core"].synchronize()

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Future:
        self._ensure_started()
        fut: Future = Future()
        self._jobs.put((fut, fn, args, kwargs))
        return fut

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the MLX thread and return its result (inline when already there)."""
        if self.is_current():
            return fn(*args, **kwargs)
        return self.submit(fn, *args, **kwargs).result()

    def shutdown(self, timeout: float = 30.0) -> None:
        """End the thread, then collect and synchronize here too (this prevents the exit crash)."""
        thread = self._thread
        if thread is not None and thread.is_alive() and not self.is_current():
            self._jobs.put(None)
            thread.join(timeout)
        gc.collect()
        if "mlx.core" in sys.modules:
            sys.modules["mlx.core"].synchronize()
