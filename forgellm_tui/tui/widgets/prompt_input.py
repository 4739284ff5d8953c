"""The chat's multi-line prompt: Enter sends, Shift+Enter or Ctrl+J starts a new line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

PLACEHOLDER = "Message…  enter send · ctrl+j new line · esc leave"


class PromptInput(TextArea):
    """A TextArea that posts :class:`PromptInput.Submitted` on Enter (the text stays until cleared)."""

    DEFAULT_CSS = """
    PromptInput { height: auto; min-height: 3; max-height: 10; border: round $primary 40%; }
    PromptInput:focus { border: round $accent; }
    PromptInput.-editing { border: round $warning; }
    """

    @dataclass
    class Submitted(Message):
        """Enter was pressed: ``text`` is what was typed."""

        prompt: "PromptInput"
        text: str

        @property
        def control(self) -> "PromptInput":
            return self.prompt

    def __init__(self, **kwargs) -> None:
        super().__init__("", soft_wrap=True, tab_behavior="focus", placeholder=PLACEHOLDER,
                         compact=False, **kwargs)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)

    def set_text(self, text: str) -> None:
        """Replace the text and put the cursor at its end."""
        self.load_text(text)
        self.move_cursor(self.document.end)
