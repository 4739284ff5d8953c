"""Choose what to chat with: every model, run and checkpoint discovered, searchable, or any folder.

Dismisses with a ``ModelRef``, a folder ``Path`` (typed, or from "open a folder path…"), or None.
Entries that cannot be loaded (``ref.error``) are listed greyed out with the reason.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from forgellm_tui.format import human_size, rel_path
from .path import PathDialog

OPEN_PATH = "__open_path__"


def matches(ref, query: str) -> bool:
    """Every word of ``query`` occurs in the ref's name, type, architecture or path."""
    hay = f"{ref.name} {ref.kind_label} {ref.model_type or ''} {ref.path}".lower()
    return all(word in hay for word in query.lower().split())


def option_text(ref, width: int = 70) -> Text:
    """``name  type  size`` on one line (name shortened from the left when long)."""
    name_w = width - 30
    name = ref.name if len(ref.name) <= name_w else "…" + ref.name[-(name_w - 1):]
    kind = ref.kind_label + (f" · val {ref.val_loss:.2f}" if ref.val_loss is not None else "")
    return Text.assemble((name.ljust(name_w), "bold" if not ref.error else "dim"), " ",
                         (kind[:21].ljust(21), "cyan" if not ref.error else "dim"), " ",
                         (human_size(ref.size_bytes).rjust(7), "dim"))


class ModelPickerDialog(ModalScreen):
    """A filter box over the list of models; Enter loads the highlighted one."""

    DEFAULT_CSS = """
    #picker-list { height: auto; max-height: 12; border: none; }
    #picker-detail { height: 3; color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without loading anything."),
        Binding("down", "move(1)", "Down", show=False, tooltip="Highlight the next model."),
        Binding("up", "move(-1)", "Up", show=False, tooltip="Highlight the previous model."),
        Binding("ctrl+o", "open_path", "Folder", tooltip="Open a model, run or checkpoint folder by path."),
    ]

    def __init__(self, refs: list, workspace: Path, current=None, title: str = "Chat with…") -> None:
        super().__init__()
        self._title = title
        self.refs = list(refs)
        self._workspace = workspace
        self._current = current
        self._shown: list = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="picker-dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Input(placeholder="type to filter, or a folder path", id="picker-filter", compact=True)
            yield OptionList(id="picker-list")
            yield Static("", id="picker-detail", markup=False)
            yield Label("enter load · ↑↓ move · ctrl+o open a folder · esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#picker-filter", Input).focus()

    def set_refs(self, refs: list) -> None:
        """Show a fresh list (discovery finished after the dialog opened)."""
        self.refs = list(refs)
        value = self.query_one("#picker-filter", Input).value
        self._fill("" if _looks_like_path(value) else value)

    def _fill(self, query: str) -> None:
        listing = self.query_one("#picker-list", OptionList)
        self._shown = [r for r in self.refs if matches(r, query)]
        options = [Option(option_text(r), id=str(i), disabled=bool(r.error)) for i, r in enumerate(self._shown)]
        options.append(Option(Text("open a folder path…", style="italic"), id=OPEN_PATH))
        listing.set_options(options)
        start = next((i for i, r in enumerate(self._shown) if not r.error
                      and self._current is not None and r.path == self._current.path), None)
        if start is None:
            start = next((i for i, r in enumerate(self._shown) if not r.error), len(self._shown))
        listing.highlighted = start

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill("" if _looks_like_path(event.value) else event.value)

    @on(OptionList.OptionHighlighted, "#picker-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        detail = self.query_one("#picker-detail", Static)
        if event.option.id == OPEN_PATH:
            detail.update("Any model folder, run folder or checkpoint folder.")
            return
        ref = self._shown[int(event.option.id)]
        lines = [rel_path(ref.path, self._workspace)]
        if ref.adapter_path is not None and ref.base_path is not None:
            lines.append(f"on {rel_path(ref.base_path, self._workspace)}")
        facts = [ref.model_type or "", "instruct" if ref.is_instruct else "base" if ref.is_instruct is False else "",
                 f"context {ref.context_length:,}" if ref.context_length else ""]
        lines.append(" · ".join(f for f in facts if f))
        if ref.error:
            lines.append(f"✗ {ref.error}")
        detail.update("\n".join(line for line in lines if line))

    def action_move(self, step: int) -> None:
        listing = self.query_one("#picker-list", OptionList)
        (listing.action_cursor_down if step > 0 else listing.action_cursor_up)()

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        if _looks_like_path(event.value):
            path = Path(event.value.strip()).expanduser()
            if path.exists():
                self.dismiss(path.resolve())
            else:
                self.query_one("#picker-detail", Static).update(f"✗ {path}: no such folder — type an existing path")
            return
        listing = self.query_one("#picker-list", OptionList)
        if listing.highlighted is not None:
            self._choose(listing.get_option_at_index(listing.highlighted))

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option)

    def _choose(self, option: Option) -> None:
        if option.disabled:
            return
        if option.id == OPEN_PATH:
            self.action_open_path()
        else:
            self.dismiss(self._shown[int(option.id)])

    def action_open_path(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.dismiss(path)

        self.app.push_screen(PathDialog("Open a folder", "A model folder, a run folder or a checkpoint folder:",
                                        str(self._workspace) + "/"), chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _looks_like_path(text: str) -> bool:
    return text.strip().startswith(("/", "~", "./", "../"))
