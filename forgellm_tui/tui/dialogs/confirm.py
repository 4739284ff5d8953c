"""A yes/no question: ``y`` or ``n``, Enter for the highlighted answer, Esc for no."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from .keys import key_label, question_hint


def answer_text(word: str, action: str) -> str:
    """``Yes, quit`` from ``Yes`` and ``Quit``; the answer starts with its key letter."""
    return word if action.lower() == word.lower() else f"{word}, {action[0].lower()}{action[1:]}"


class ConfirmDialog(ModalScreen[bool]):
    """Ask ``question``; dismisses with True for yes. ``default`` is the answer Enter gives (highlighted);
    questions whose yes cannot be undone (deleting) pass ``default=False``."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", tooltip="Answer yes."),
        Binding("n,escape", "answer(False)", "No", tooltip="Answer no (esc: the same)."),
    ]

    def __init__(self, title: str, question: str, yes: str = "Yes", no: str = "No", default: bool = True) -> None:
        super().__init__()
        self._title, self._question, self._yes, self._no = title, question, yes, no
        self._default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._question, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(key_label("y", answer_text("Yes", self._yes)), id="yes",
                             variant="error" if not self._default else "primary", compact=True)
                yield Button(key_label("n", answer_text("No", self._no)), id="no",
                             variant="primary" if not self._default else "default", compact=True)
            yield Label(question_hint(["y", "n"]), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#yes" if self._default else "#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
