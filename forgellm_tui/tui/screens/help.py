"""The key list: every binding of the app and of each screen, built from their ``BINDINGS``."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..commands import bindings_of

GENERAL_KEYS = [
    ("ctrl+p", "Command palette: search every action by name"),
    ("tab / shift+tab", "Move between panes and fields"),
    ("↑ ↓ enter space", "Move, open and toggle in lists and trees"),
    ("esc", "Close a dialog or this help"),
]


def key_table(title: str, rows: list[tuple[str, str]]) -> Group:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", width=17, no_wrap=True)
    table.add_column()
    for key, text in rows:
        table.add_row(key, text)
    return Group(Text(title, style="bold underline"), table, Text(""))


class HelpScreen(ModalScreen[None]):
    """Lists every key; Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", tooltip="Close the key list.")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog -wide"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(self._content(), id="help-keys")
            yield Label("esc close · ctrl+p find any action", classes="dialog-hint")

    def _rows(self, cls) -> list[tuple[str, str]]:
        return [(self.app.get_key_display(b), (b.tooltip or b.description).rstrip(".")) for b in bindings_of(cls)]

    def _content(self) -> Group:
        from . import MODE_SCREENS

        sections = [key_table("Everywhere", self._rows(type(self.app)) + GENERAL_KEYS)]
        for number, screen_cls in enumerate(MODE_SCREENS.values(), start=1):
            sections.append(key_table(f"{number} · {screen_cls.SCREEN_TITLE}", self._rows(screen_cls)))
        from ..dialogs import ConfirmDialog, PrepareDialog

        sections.append(key_table("Prepare dialog", self._rows(PrepareDialog)))
        sections.append(key_table("Questions", self._rows(ConfirmDialog)))
        return Group(*sections)

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)
