"""Headless sub-commands of ``forgellm-tui``; each is a thin layer over ``forgellm_tui.core``."""

from __future__ import annotations

import sys
import time

from ..settings import Settings


def settings_from(args) -> Settings:
    return Settings.load(getattr(args, "workspace", None))


class ProgressLines:
    """Progress lines (``  [ 42.0%] message``), at most twice a second and always the last one.

    ``stderr=True`` keeps stdout for results (``eval`` prints its table or JSON there).
    """

    def __init__(self, stderr: bool = False) -> None:
        self.last = 0.0
        self.stderr = stderr

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.5:
            return
        self.last = now
        pct = 100.0 * done / total if total else 100.0
        print(f"  [{pct:5.1f}%] {message}", file=sys.stderr if self.stderr else sys.stdout, flush=True)
