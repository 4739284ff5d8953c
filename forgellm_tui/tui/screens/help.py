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
    ("esc", "Leave a text field (then 1–4, ? and q work again); in a dialog: cancel; here: close"),
    ("ctrl+p", "Command palette: search every action by name"),
    ("tab / shift+tab", "Move between panes and fields"),
    ("↑ ↓ enter space", "Move, open and toggle in lists and trees"),
]
HINT = "esc close · ↑↓ pgup pgdn scroll · ctrl+p find any action"


def key_table(title: str, rows: list[tuple[str, str]]) -> Group:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", width=17, no_wrap=True)
    table.add_column()
    for key, text in rows:
        table.add_row(key, text)
    return Group(Text(title, style="bold underline"), table, Text(""))


class HelpScreen(ModalScreen[None]):
    """Lists every key; Esc, q or ? closes it. The title says which part of the list is shown."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", tooltip="Close the key list.")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog -wide"):
            yield Label("Keys", id="help-title", classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(self._content(), id="help-keys")
            yield Label(HINT, classes="dialog-hint")

    def _rows(self, cls) -> list[tuple[str, str]]:
        # a binding without a tooltip is a second key for an action already listed
        return [(self.app.get_key_display(b), b.tooltip.rstrip(".")) for b in bindings_of(cls) if b.tooltip]

    def _content(self) -> Group:
        from ..dialogs.keys import QUESTION_KEYS
        from . import MODE_SCREENS

        sections = [key_table("Everywhere", self._rows(type(self.app)) + GENERAL_KEYS)]
        for number, screen_cls in enumerate(MODE_SCREENS.values(), start=1):
            sections.append(key_table(f"{number} · {screen_cls.SCREEN_TITLE}", self._rows(screen_cls)))
            for sub in getattr(screen_cls, "SUB_SCREENS", ()):
                title = f"{number} · {screen_cls.SCREEN_TITLE} · {sub.SCREEN_TITLE}"
                sections.append(key_table(title, self._rows(sub)))
        sections.append(key_table("Dialogs and questions", QUESTION_KEYS))
        return Group(*sections)

    def on_mount(self) -> None:
        scroll = self.query_one("#help-scroll", VerticalScroll)
        scroll.focus()
        self.watch(scroll, "scroll_y", self._show_position, init=False)
        self.call_after_refresh(self._show_position)

    def _show_position(self, _value: float | None = None) -> None:
        """``Keys · page 1 of 5 · ↓ more`` while the list is longer than the window."""
        scroll = self.query_one("#help-scroll", VerticalScroll)
        page = max(scroll.scrollable_content_region.height, 1)
        total = scroll.virtual_size.height
        if total <= page:
            text = "Keys"
        else:
            pages = -(-total // page)
            end = scroll.scroll_y >= scroll.max_scroll_y
            at = pages if end else min(int(scroll.scroll_y // page) + 1, pages)
            text = f"Keys · page {at} of {pages} · " + ("end (↑ pgup back)" if end else "↓ pgdn more")
        self.query_one("#help-title", Label).update(text)

    def action_close(self) -> None:
        self.dismiss(None)
