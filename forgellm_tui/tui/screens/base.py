"""What every top-level screen shares: the status bar on top, the Footer below."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen

from ..format import short_path
from ..widgets.footer import ForgeFooter
from ..widgets.status_bar import StatusBar


class ForgeScreen(Screen):
    """A top-level screen (one per app mode). Subclasses implement :meth:`compose_body`."""

    SCREEN_TITLE = "ForgeLLM"
    """Shown in the status bar and the help screen."""

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
