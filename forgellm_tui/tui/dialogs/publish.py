"""Publish a checkpoint: which one, under what name, de-quantized or not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..widgets.toggles import MarkedCheckbox
from .keys import form_hint


@dataclass(frozen=True)
class PublishRequest:
    """What the user chose: ``checkpoint`` is ``best`` or an iteration (as text)."""

    checkpoint: str
    name: str
    dequantize: bool


class PublishDialog(ModalScreen[PublishRequest | None]):
    """Enter in the name or ctrl+s publishes, Esc cancels. The name follows the checkpoint until it is edited."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without publishing."),
                Binding("ctrl+s", "submit", "Publish", tooltip="Publish with these settings (also enter in the name).")]

    def __init__(self, run_name: str, choices: list[tuple[str, str, int]], published_dir: Path,
                 selected: str = "best", quantized: bool = False) -> None:
        """``choices``: (label, value, iteration) for each checkpoint, best first."""
        super().__init__()
        self._run, self._choices, self._published = run_name, choices, published_dir
        self._selected = selected if any(v == selected for _, v, _ in choices) else choices[0][1]
        self._quantized = quantized
        self._auto_name = self._default(self._selected)

    def _default(self, value: str) -> str:
        it = next((it for _, v, it in self._choices if v == value), 0)
        return f"{self._run}-it{it}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="publish-dialog"):
            yield Label(f"Publish a checkpoint of {self._run}", classes="dialog-title")
            with Grid(id="publish-form"):
                yield Label("checkpoint")
                yield Select([(label, value) for label, value, _ in self._choices], value=self._selected,
                             allow_blank=False, id="publish-checkpoint", compact=True)
                yield Label("name")
                yield Input(self._auto_name, id="publish-name", compact=True)
                yield Label("")
                yield MarkedCheckbox("de-quantize the base while fusing", self._quantized, id="publish-dequantize",
                                     compact=True)
            yield Static("", id="publish-error", classes="dialog-error", markup=False)
            yield Static(f"Writes {self._published.name}/<name>/: the fused model, README.md, metadata.json, "
                         "training_config.yaml and dashboard.png." + (
                             "\nThe base is quantized: de-quantizing keeps the adapter's full effect."
                             if self._quantized else ""), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Publish", id="publish-go", variant="primary", compact=True)
                yield Button("Cancel", id="publish-cancel", compact=True)
            yield Label(form_hint("publish"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#publish-name", Input).focus()

    @on(Select.Changed, "#publish-checkpoint")
    def _checkpoint_changed(self, event: Select.Changed) -> None:
        name = self.query_one("#publish-name", Input)
        if name.value == self._auto_name:  # not edited by hand: follow the checkpoint
            self._auto_name = self._default(str(event.value))
            name.value = self._auto_name

    @on(Input.Submitted, "#publish-name")
    @on(Button.Pressed, "#publish-go")
    def action_submit(self) -> None:
        from forgellm_tui.core.errors import ForgeError
        from forgellm_tui.core.publish import check_name

        name = self.query_one("#publish-name", Input).value.strip()
        error = self.query_one("#publish-error", Static)
        try:
            check_name(name)
        except ForgeError as exc:
            error.update(f"{exc.message} — {exc.hint}")
            return
        if (self._published / name).exists():
            error.update(f"published/{name} already exists — choose another name")
            return
        value = self.query_one("#publish-checkpoint", Select).value
        self.dismiss(PublishRequest(str(value), name, self.query_one("#publish-dequantize", Checkbox).value))

    @on(Button.Pressed, "#publish-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
