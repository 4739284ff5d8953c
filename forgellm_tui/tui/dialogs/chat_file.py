"""Choose a saved chat (JSON) to load: the files in ``chats/``, newest first, or any path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


def saved_chats(folder: Path) -> list[Path]:
    """``*.json`` files in ``folder``, newest first (none when it does not exist)."""
    try:
        files = [p for p in folder.glob("*.json") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


class ChatFileDialog(ModalScreen[Path | None]):
    """Enter on a listed file, or type a path and press Enter; Esc cancels."""

    DEFAULT_CSS = """
    #chat-files { height: auto; max-height: 10; border: none; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without loading a chat.")]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder
        self._files = saved_chats(folder)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label("Load a chat", classes="dialog-title")
            if self._files:
                yield OptionList(*[Option(self._label(p), id=str(p)) for p in self._files], id="chat-files")
            else:
                yield Static(f"No saved chats in {self._folder} yet (ctrl+s exports one).", classes="dialog-body",
                             markup=False)
            yield Input(str(self._folder) + "/", id="chat-path", compact=True, placeholder="/path/to/chat.json")
            yield Static("", id="chat-path-error", classes="dialog-error", markup=False)
            yield Label("enter load · tab move · esc cancel", classes="dialog-hint")

    def _label(self, path: Path) -> Text:
        when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        return Text.assemble((path.name, "bold"), "  ", (when, "dim"))

    def on_mount(self) -> None:
        (self.query_one("#chat-files") if self._files else self.query_one("#chat-path")).focus()

    @on(OptionList.OptionSelected, "#chat-files")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id))

    @on(Input.Submitted, "#chat-path")
    def _typed(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not path.is_file():
            self.query_one("#chat-path-error", Static).update(f"{path}: not a file — type the path of a chat .json")
            return
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)
