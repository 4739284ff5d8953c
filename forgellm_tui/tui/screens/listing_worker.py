"""A mixin for screens that read workspace listings in a thread worker and refresh on return."""

from __future__ import annotations

from typing import Callable

from textual import work

from ..messages import ListingLoaded


class ListingMixin:
    """``load_listing(name, fn)`` runs ``fn()`` in a thread and posts ``ListingLoaded(name, rows)``."""

    def load_listing(self, name: str, fn: Callable[[], list]) -> None:
        self._listing_worker(name, fn)

    @work(thread=True, group="listing", exit_on_error=False, description="Reading the workspace")
    def _listing_worker(self, name: str, fn: Callable[[], list]) -> None:
        self.post_message(ListingLoaded(name, fn()))
