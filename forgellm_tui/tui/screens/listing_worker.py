"""Reading workspace listings in a thread worker: the screen gets ``ListingLoaded(name, rows)`` back."""

from __future__ import annotations

from functools import partial
from typing import Callable

from ..messages import ListingLoaded


def load_listing(screen, name: str, fn: Callable[[], list]) -> None:
    """Run ``fn()`` in a thread worker of ``screen``, which then gets ``ListingLoaded(name, rows)``."""
    screen.run_worker(partial(_read, screen.post_message, name, fn), name="_listing_worker", group="listing",
                      description="Reading the workspace", exit_on_error=False, thread=True)


def _read(post: Callable, name: str, fn: Callable[[], list]) -> None:
    post(ListingLoaded(name, fn()))


class ListingMixin:
    """``load_listing(name, fn)``: :func:`load_listing` for this screen."""

    def load_listing(self, name: str, fn: Callable[[], list]) -> None:
        load_listing(self, name, fn)
