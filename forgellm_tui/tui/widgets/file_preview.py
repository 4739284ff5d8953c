"""Preview of the highlighted dataset file (its numbers, then its first characters)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from forgellm_tui.core.datasets import printable
from forgellm_tui.format import grouped, human_size


class FilePreview(Vertical):
    """A stats line above a read-only, keyboard-scrollable text area."""

    DEFAULT_CSS = """
    FilePreview > #preview-stats { height: auto; padding: 0 1; color: $text-muted; }
    FilePreview > TextArea { height: 1fr; border: none; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Select a file to preview it.", id="preview-stats")
        yield TextArea("", id="preview-text", read_only=True, soft_wrap=True, show_line_numbers=False)

    def show_entry(self, entry) -> None:
        """Show the numbers of a ``FileEntry``; the text follows with :meth:`show_text`."""
        stats = Text.assemble(
            (printable(entry.rel), "bold"), "\n",
            f"{human_size(entry.size)} · {grouped(entry.words)} words · {grouped(entry.lines)} lines · ",
            (f"{grouped(entry.tokens)} tokens", "bold cyan"), f" · {entry.tokenizer_used}",
        )
        self.query_one("#preview-stats", Static).update(stats)

    def show_kind(self, kind: str | None) -> None:
        """Add to the numbers which training data a JSONL file holds, and how ``p`` prepares it."""
        stats = self.query_one("#preview-stats", Static)
        if kind and isinstance(stats.content, Text):
            words = {"preference": "preference pairs (chosen/rejected) · p prepares them for DPO/ORPO",
                     "ift": "IFT conversations", "cpt": "CPT text lines"}[kind]
            stats.update(Text.assemble(stats.content, "\n", (words, "bold magenta")))

    def show_summary(self, title: str, lines: list[str]) -> None:
        """Show a folder or category summary instead of a file."""
        self.query_one("#preview-stats", Static).update(Text.assemble((title, "bold"), "\n", "\n".join(lines)))
        self.show_text("")

    def show_text(self, text: str) -> None:
        area = self.query_one("#preview-text", TextArea)
        area.load_text(text)
        area.scroll_home(animate=False)
