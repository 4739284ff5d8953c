"""The Arena's thread workers: loading a target and streaming both replies, one side after the other.

Both sides share one ``ModelCache`` that holds two models, so a round after the first loads nothing.
Workers post the messages below or fill a side's ``ReplyBuffer``; they never touch widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from forgellm_tui.format import error_text
from .chat_workers import ReplyBuffer


@dataclass
class TargetLoaded(Message):
    """A target was loaded for ``side`` (``ref``), or could not be (``error``, one line)."""

    side: str
    ref: Any = None
    error: str | None = None


@dataclass
class SideStarted(Message):
    """The worker moved on to ``side`` (its model is being made current, then it replies)."""

    side: str


@dataclass
class SideFinished(Message):
    """``side`` replied: its ``ReplyStats`` and stored text, or ``error`` (one line) when it failed."""

    side: str
    stats: Any = None
    reply: str = ""
    error: str | None = None


class ArenaRoundDone(Message):
    """Both sides ended (replied, failed or were stopped)."""


class ArenaWorkers:
    """Mixin for the Arena screen: needs ``cache``, ``sessions``, ``targets`` and ``settings``."""

    @work(thread=True, group="arena-load", exit_on_error=False, description="Loading an arena model")
    def _load_target_worker(self, side: str, target) -> None:
        """Load ``target`` (a ModelRef or a folder) into the cache; the other side's model stays loaded."""
        try:
            loaded = self.cache.load(target)
        except Exception as exc:  # ForgeError: its own line; anything else: type and text
            self.post_message(TargetLoaded(side, error=error_text(exc)))
            return
        self.post_message(TargetLoaded(side, ref=loaded.ref))

    @work(thread=True, group="arena-round", exit_on_error=False, description="Arena replies")
    def _round_worker(self, prompt: str, buffers: dict[str, ReplyBuffer]) -> None:
        """Both replies to ``prompt``: left, then right (MLX runs on one thread). Esc stops the round."""
        worker = get_current_worker()
        for side, buffer in buffers.items():
            if worker.is_cancelled or self.round_stopped:
                break
            self.post_message(SideStarted(side))
            self.post_message(self._reply(side, prompt, buffer, worker))
        self.post_message(ArenaRoundDone())

    def _reply(self, side: str, prompt: str, buffer: ReplyBuffer, worker) -> SideFinished:
        session, stats = self.sessions[side], None
        try:
            self.cache.load(self.targets[side])
            session.clear()  # every round is a single turn: the same prompt for both sides
            for chunk in session.stream(prompt):
                if worker.is_cancelled or self.round_stopped:
                    session.stop()
                if chunk.progress is not None:
                    buffer.progress = chunk.progress
                elif chunk.text:
                    buffer.push(chunk.text, chunk.token is not None)
                if chunk.stats is not None:
                    stats = chunk.stats
        except Exception as exc:
            return SideFinished(side, error=error_text(exc))
        history = session.history
        reply = history[-1].content if history and history[-1].role == "assistant" else ""
        return SideFinished(side, stats=stats, reply=reply)
