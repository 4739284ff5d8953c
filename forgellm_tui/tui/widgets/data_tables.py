"""Tables of the Datasets screen: totals per category and skipped files."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import DataTable, Static

from forgellm_tui.core.datasets import printable
from forgellm_tui.format import grouped, human_count, human_size


class TotalsTable(Static):
    """One row per category plus a bold total row, compact enough for a 36-column pane."""

    DEFAULT_CSS = """
    TotalsTable { padding: 0 1; height: auto; }
    """

    def show_scan(self, scan) -> None:
        table = Table(box=None, padding=(0, 1), collapse_padding=True, pad_edge=False, show_edge=False,
                      header_style="bold")
        table.add_column("category", no_wrap=True, overflow="ellipsis")
        for key in ("files", "size", "words", "tokens"):
            table.add_column(key, justify="right", no_wrap=True)
        totals = scan.totals()
        files = size = words = tokens = 0
        for name in sorted(totals):
            t = totals[name]
            files, size, words, tokens = files + t.files, size + t.size, words + t.words, tokens + t.tokens
            table.add_row(printable(name) or "(top level)", *self._cells(t.files, t.size, t.words, t.tokens))
        table.add_row(*self._cells_total(files, size, words, tokens))
        exact = Text.assemble("\n", (f"{grouped(tokens)} tokens", "bold cyan"), f" · {grouped(words)} words",
                              f" · {grouped(files)} files\n", ("counted with ", "dim"), scan.tokenizer_used)
        if scan.skipped:
            exact.append(f"\n{len(scan.skipped)} files skipped (press s)", style="yellow")
        self.update(Group(table, exact))

    @staticmethod
    def _cells(files: int, size: int, words: int, tokens: int) -> list[str]:
        return [str(files), human_size(size), human_count(words), human_count(tokens)]

    def _cells_total(self, files: int, size: int, words: int, tokens: int) -> list[Text]:
        return [Text(v, style="bold") for v in ["total", *self._cells(files, size, words, tokens)]]


class SkippedTable(DataTable):
    """Files the scan did not count, with the reason (binary, empty, undecodable, …)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("file", key="file")
        self.add_column("reason", key="reason")

    def show_skipped(self, skipped) -> None:
        self.clear()
        for item in skipped:
            self.add_row(printable(item.rel), item.reason)
        if not skipped:
            self.add_row(Text("none: every file was counted", style="italic dim"), "")
