"""Small questions of the Training screen: one of several choices, a number, a name."""

from __future__ import annotations

from typing import Callable

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from .keys import CANCEL, SUBMIT, key_label, question_hint

Choice = tuple[str, str, str]
"""``(key, label, value)``: press ``key`` (underlined in the label), or the button, to answer ``value``."""


class ChoiceDialog(ModalScreen[str | None]):
    """Ask ``question``; dismisses with the chosen value (None for Esc). Enter picks ``default``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without choosing.")]

    def __init__(self, title: str, question: str, choices: list[Choice], default: str | None = None) -> None:
        super().__init__()
        self._title, self._question, self._choices = title, question, choices
        self._default = default if default is not None else choices[-1][2]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._question, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for key, label, value in self._choices:
                    variant = "primary" if value == self._default else "default"
                    yield Button(key_label(key, label), id=f"choice-{value}", variant=variant, compact=True)
            yield Label(question_hint([key for key, _label, _value in self._choices]), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self._default}", Button).focus()

    def on_key(self, event: events.Key) -> None:
        for key, _label, value in self._choices:
            if event.key == key:
                event.stop()
                self.dismiss(value)
                return

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskDialog(ModalScreen[str | None]):
    """One text field; ``check(text)`` returns an error message or None; Enter or ctrl+s accepts, Esc cancels.
    ``restrict`` limits what can be typed (a regular expression for the whole text)."""

    BINDINGS = [CANCEL, SUBMIT]

    def __init__(self, title: str, prompt: str, value: str = "", check: Callable[[str], str | None] | None = None,
                 placeholder: str = "", restrict: str | None = None) -> None:
        super().__init__()
        self._title, self._prompt, self._value, self._check = title, prompt, value, check
        self._placeholder, self._restrict = placeholder, restrict

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._prompt, classes="dialog-body", markup=False)
            yield Input(self._value, id="ask-input", compact=True, placeholder=self._placeholder,
                        restrict=self._restrict)
            yield Static("", id="ask-error", classes="dialog-error", markup=False)
            yield Label("enter or ctrl+s accept · esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#ask-input", Input).focus()

    @on(Input.Submitted)
    def action_submit(self) -> None:
        text = self.query_one("#ask-input", Input).value.strip()
        problem = self._check(text) if self._check is not None else None
        if problem:
            self.query_one("#ask-error", Static).update(f"✗ {problem}")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


def positive_int(text: str) -> str | None:
    """None when ``text`` is a whole number ≥ 1, else why not."""
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        return f"{text!r} is not a whole number"
    return None if value >= 1 else "must be at least 1"
