"""Shows the shell commands that reproduce, resume or publish a run headless (``c`` copies them)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from .keys import key_label


class CommandsDialog(ModalScreen[None]):
    """``commands``: (what it does, command line) pairs."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", tooltip="Close this window."),
        Binding("c", "copy", "Copy", tooltip="Copy the commands to the clipboard."),
    ]

    def __init__(self, title: str, commands: list[tuple[str, str]]) -> None:
        super().__init__()
        self._title, self._commands = title, commands

    def script(self) -> str:
        """The commands as a shell script (comments say what each does)."""
        return "\n".join(f"# {what}\n{cmd}" for what, cmd in self._commands) + "\n"

    def compose(self) -> ComposeResult:
        text = Text()
        for what, cmd in self._commands:
            text.append(f"# {what}\n", style="dim")
            text.append(f"{cmd}\n", style="bold")
        with Vertical(classes="dialog -wide", id="commands-dialog"):
            yield Label(self._title, classes="dialog-title")
            with VerticalScroll(id="commands-scroll"):
                yield Static(text, id="commands-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(key_label("c", "Copy"), id="copy", compact=True)
                yield Button("Close", id="close", variant="primary", compact=True)
            yield Label("c copy · enter or esc close", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.script())
        self.notify("commands copied to the clipboard", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
