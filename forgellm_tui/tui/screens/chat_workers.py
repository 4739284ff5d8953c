"""The Chat screen's thread workers: model discovery, model loading and reply streaming.

Workers only post messages (``tui/messages.py``) or fill a :class:`ReplyBuffer`; they never touch
widgets. Tokens are not sent one message each: the worker appends them to the buffer and the
screen drains it about 15 times a second (a ``call_from_thread`` per token would flood the event loop).
All MLX work runs on core's MLX thread; ``ModelCache.load`` and the chunk iterator block here.
"""

from __future__ import annotations

import threading
from typing import Iterator

from textual import work
from textual.worker import get_current_worker

from forgellm_tui.format import error_text
from ..messages import ModelLoaded, ModelLoadProgress, ModelsFound, ReplyFinished


class ReplyBuffer:
    """Text streamed by the generation worker and not drawn yet (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self.text = ""
        """Everything streamed so far (read on the UI thread after :meth:`drain`)."""
        self.tokens = 0
        self.progress: tuple[int, int] | None = None
        """(prompt tokens processed, total) while the prompt is read."""

    def push(self, text: str, token: bool = True) -> None:
        with self._lock:
            self._parts.append(text)
            self.tokens += token

    def drain(self) -> bool:
        """Move pushed text into :attr:`text`; True when there was some."""
        with self._lock:
            parts, self._parts = self._parts, []
        if parts:
            self.text += "".join(parts)
        return bool(parts)


class ChatWorkers:
    """Mixin for the Chat screen: needs ``self.cache``, ``self.session`` and ``self.settings``."""

    @work(thread=True, group="listing", exit_on_error=False, description="Finding models")
    def _discover_worker(self) -> None:
        from forgellm_tui.core.models import discover

        self.post_message(ModelsFound(discover(self.settings)))

    @work(thread=True, group="model", exit_on_error=False, description="Loading a model")
    def _load_worker(self, target, adapter=None) -> None:
        """Load ``target`` (a ModelRef or a folder path, with ``adapter`` on it when given).

        A failure keeps the previous model loaded.
        """
        from forgellm_tui.core.models import resolve_open

        def progress(message: str) -> None:
            self.post_message(ModelLoadProgress(message))

        try:
            if adapter is not None:
                target = resolve_open(self.settings, target, adapter)
            loaded = self.cache.load(target, progress=progress)
        except Exception as exc:  # ForgeError: its own line; anything else: type and text
            self.post_message(ModelLoaded(error=error_text(exc)))
            return
        self.post_message(ModelLoaded(ref=loaded.ref))

    @work(thread=True, group="generation", exit_on_error=False, description="Generating a reply")
    def _generate_worker(self, chunks: Iterator, buffer: ReplyBuffer) -> None:
        """Iterate a ``ChatSession`` turn; quitting the app (worker cancelled) stops it."""
        worker = get_current_worker()
        stats, error = None, None
        try:
            for chunk in chunks:
                if worker.is_cancelled:
                    self.session.stop()
                if chunk.progress is not None:
                    buffer.progress = chunk.progress
                elif chunk.text:
                    buffer.push(chunk.text, chunk.token is not None)
                if chunk.stats is not None:
                    stats = chunk.stats
        except Exception as exc:  # the turn failed: the history is unchanged
            error = error_text(exc)
        self.post_message(ReplyFinished(stats=stats, error=error))
