"""Ask for a folder path (e.g. a model folder to count tokens with)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from .keys import SUBMIT


class PathDialog(ModalScreen[Path | None]):
    """An input for a folder; Enter (or ctrl+s) accepts when the folder exists, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without choosing."), SUBMIT]

    def __init__(self, title: str, prompt: str, value: str = "") -> None:
        super().__init__()
        self._title, self._prompt, self._value = title, prompt, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._prompt, classes="dialog-body")
            yield Input(self._value, id="path-input", placeholder="/path/to/model", compact=True)
            yield Static("", id="path-error", classes="dialog-error", markup=False)
            yield Label("enter or ctrl+s accept · esc cancel", classes="dialog-hint")

    @on(Input.Submitted)
    def action_submit(self) -> None:
        text = self.query_one("#path-input", Input).value.strip()
        path = Path(text).expanduser()
        if not text or not path.is_dir():
            self.query_one("#path-error", Static).update(f"{path}: not a folder — type the path of an existing folder")
            return
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)
