"""Chat: the models this workspace offers (base, published, run folders) with their size.

The chat itself (streaming replies, sampling settings) comes with the generation engine; the
screen already shows which models can be chatted with and what they are.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

from ..format import human_size, rel_path, short_path
from ..listing import list_models, model_summary
from ..messages import ListingLoaded
from .base import ForgeScreen
from .listing_worker import ListingMixin


class ChatScreen(ListingMixin, ForgeScreen):
    """Choose a model to chat with."""

    SCREEN_TITLE = "Chat"
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Look for models again."),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="chat-main"):
            with Vertical(id="models-pane", classes="pane"):
                yield Label("models", classes="pane-title")
                yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="model-pane", classes="pane"):
                yield Label("", id="model-title", classes="pane-title")
                yield Static("", id="model-info")

    def on_mount(self) -> None:
        self.query_one("#models-table", DataTable).add_columns("model", "from", "size")
        self.query_one("#models-table", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load_listing("models", partial(list_models, self.settings))

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        table = self.query_one("#models-table", DataTable)
        table.clear()
        for row in event.rows:
            table.add_row(row.name, row.source, Text(human_size(row.size), justify="right"), key=str(row.path))
        if not event.rows:
            self.query_one("#model-title", Label).update("no models")
            self.query_one("#model-info", Static).update(
                f"No models in {short_path(self.settings.models_dir)}/base or "
                f"{short_path(self.settings.published_dir)} yet.")

    @on(DataTable.RowHighlighted, "#models-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        path = Path(event.row_key.value)
        self.query_one("#model-title", Label).update(path.name)
        lines = Text.assemble(("path  ", "dim"), rel_path(path, self.settings.workspace), "\n")
        for key, value in model_summary(path).items():
            lines.append_text(Text.assemble((f"{key}  ", "dim"), value, "\n"))
        lines.append_text(Text("\nChatting arrives with the generation engine.", style="italic dim"))
        self.query_one("#model-info", Static).update(lines)
