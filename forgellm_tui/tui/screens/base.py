"""What every top-level screen shares: the status bar on top, the Footer below, and Esc to leave a text
field (so that ``1``–``4``, ``?``, ``q`` and the screen's keys work again)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget

from ..fields import is_typing, leave_field
from forgellm_tui.format import short_path
from ..widgets.footer import ForgeFooter
from ..widgets.status_bar import StatusBar

LEAVE_FIELD = Binding("escape", "leave_field", "Leave field",
                      tooltip="Leave the text field: then 1–4, ?, q and the screen's keys work again.")
"""Shown in the footer only while a text field has the focus (where those keys are typed as text)."""


class ForgeScreen(Screen):
    """A top-level screen (one per app mode). Subclasses implement :meth:`compose_body`."""

    SCREEN_TITLE = "ForgeLLM"
    """Shown in the status bar and the help screen."""
    BINDINGS = [LEAVE_FIELD]

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    """Textual's ``Screen.focused``, without its repaint of the whole screen on every focus change: the
    widgets that gain and lose focus (and their focus-within ancestors) repaint themselves. The repaint
    drew the whole screen a second time after every view switch, screen switch or Tab."""

    def compose(self) -> ComposeResult:
        yield StatusBar(self.SCREEN_TITLE, short_path(self.app.settings.workspace), id="status-bar")
        yield from self.compose_body()
        yield ForgeFooter(compact=True, show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def settings(self):
        """The app's :class:`~forgellm_tui.settings.Settings`."""
        return self.app.settings

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "leave_field":
            return is_typing(self.focused) or False  # False: not in the footer outside a field
        return True

    def leave_field_target(self, field: Widget) -> Widget | None:
        """Where Esc moves the focus from ``field`` (None: the nearest focusable container, else the screen)."""
        return None

    def action_leave_field(self) -> None:
        """Leave the text field being typed in."""
        if is_typing(self.focused):
            leave_field(self, self.leave_field_target(self.focused))
