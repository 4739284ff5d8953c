"""The dataset tree: categories, folders and files with size, words and tokens in aligned columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, Tree

from forgellm_tui.core.datasets import printable
from forgellm_tui.format import human_count, human_size

COL = 7  # width of each number column
COLUMNS = ("size", "words", "tokens")
NARROW = 48  # below this content width the words column is left out (it stays in the preview)


@dataclass
class NodeInfo:
    """What a tree node stands for: a category, a folder inside one, or a file (``entry``)."""

    kind: str  # "category" | "folder" | "file"
    name: str
    rel: str
    files: int = 0
    size: int = 0
    words: int = 0
    tokens: int = 0
    entry: Any = None  # core.datasets.FileEntry for files


def columns_for(width: int) -> tuple[str, ...]:
    """The number columns that fit a tree ``width`` cells wide."""
    return COLUMNS if width >= NARROW else ("size", "tokens")


def _row(name: str, width: int, columns: tuple[str, ...], **values: int) -> tuple[str, str]:
    """Split a row into its padded name and the number columns."""
    fmt = {"size": human_size, "words": human_count, "tokens": human_count}
    numbers = "".join(fmt[c](values[c]).rjust(COL) for c in columns)
    room = max(width - len(numbers), 6)
    if len(name) > room - 1:
        name = name[: room - 2] + "…"
    return name.ljust(room), numbers


def header_text(width: int, columns: tuple[str, ...] = COLUMNS) -> Text:
    """The column header line matching the tree rows."""
    numbers = "".join(c.rjust(COL) for c in columns)
    return Text("  name".ljust(max(width - len(numbers), 6)) + numbers, style="bold")


class DatasetTree(Tree[NodeInfo]):
    """Categories (top-level folders) with their totals, then folders and files.

    The parent sets content with :meth:`show_scan`; the tree posts Textual's own
    ``Tree.NodeHighlighted`` when the cursor moves.
    """

    DEFAULT_CSS = """
    DatasetTree { scrollbar-size-vertical: 1; overflow-y: scroll; overflow-x: hidden; }
    """

    @dataclass
    class Relabelled(Message):
        """Labels were rebuilt for a new width (the column header follows it)."""

        width: int
        columns: tuple[str, ...]

    def __init__(self, **kwargs) -> None:
        super().__init__("dataset", **kwargs)
        self.show_root = False
        self.guide_depth = 3
        self._label_width = 0

    # ------------------------------------------------------------------ content

    def show_scan(self, scan, expand_first: bool = True) -> None:
        """Replace the tree with the files of a ``DatasetScan``."""
        self.clear()
        categories: dict[str, Any] = {}
        folders: dict[str, Any] = {}
        for entry in sorted(scan.files, key=lambda e: (e.category, e.rel.lower())):
            parts = entry.rel.split("/")
            cat = entry.category or "(top level)"
            parent = categories.get(cat)
            if parent is None:
                parent = self.root.add("", data=NodeInfo("category", cat, parts[0] if len(parts) > 1 else ""))
                categories[cat] = parent
            # folders below the category folder
            start = 1 if entry.category and len(parts) > 1 else 0
            for depth in range(start, len(parts) - 1):
                key = "/".join(parts[: depth + 1])
                node = folders.get(key)
                if node is None:
                    node = parent.add("", data=NodeInfo("folder", parts[depth], key))
                    folders[key] = node
                parent = node
            parent.add_leaf("", data=NodeInfo("file", parts[-1], entry.rel, 1, entry.size,
                                                entry.words, entry.tokens, entry))
            for node in self._ancestors(parent):
                info = node.data
                info.files += 1
                info.size += entry.size
                info.words += entry.words
                info.tokens += entry.tokens
        if expand_first and self.root.children:
            self.root.children[0].expand()
        self._label_width = 0
        self.relabel()
        self.move_cursor_to_line(0)

    def show_message(self, message: str) -> None:
        """Show a single line instead of files (an empty or missing dataset)."""
        self.clear()
        self.root.add_leaf(Text(message, style="italic"), data=None)

    @staticmethod
    def _ancestors(node):
        while node is not None and node.data is not None:
            yield node
            node = node.parent

    # ------------------------------------------------------------------ labels

    def _content_width(self) -> int:
        return max(self.scrollable_content_region.width, 30)

    def relabel(self) -> None:
        """Rebuild every label for the current width (called on resize)."""
        width = self._content_width()
        if width == self._label_width:
            return
        self._label_width = width
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            if node.data is not None:
                node.set_label(self._label(node, width))
            stack.extend(node.children)
        self.post_message(self.Relabelled(width, columns_for(width)))

    def _label(self, node, width: int) -> Text:
        info: NodeInfo = node.data
        depth = 0
        parent = node.parent
        while parent is not None:
            depth += 1
            parent = parent.parent
        room = width - (depth - 1) * self.guide_depth - (2 if node.allow_expand else 0) - 1
        values = dict(size=info.size, words=info.words, tokens=info.tokens)
        if info.kind == "file":
            name, numbers = _row(printable(info.name), room, columns_for(width), **values)
            return Text.assemble(name, (numbers, "cyan"))
        suffix = f" ({info.files})" if info.kind == "category" else "/"
        name, numbers = _row(printable(info.name) + suffix, room, columns_for(width), **values)
        style = "bold" if info.kind == "category" else ""
        return Text.assemble((name, style), (numbers, f"{style} cyan".strip()))

    def on_resize(self) -> None:
        self.relabel()


class DatasetPane(Vertical):
    """The column header line above a :class:`DatasetTree`."""

    DEFAULT_CSS = """
    DatasetPane > #tree-header { height: 1; background: $boost; }
    """

    def compose(self) -> ComposeResult:
        yield Static(header_text(40), id="tree-header")
        yield DatasetTree(id="dataset-tree")

    def on_dataset_tree_relabelled(self, event: DatasetTree.Relabelled) -> None:
        self.query_one("#tree-header", Static).update(header_text(event.width - 1, event.columns))
