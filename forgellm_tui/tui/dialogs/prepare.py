"""The "prepare training data" form: kind, tokenizer model, target length, mix ratio, output name."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, Static

from ..widgets.toggles import MarkedRadioButton
from .keys import form_hint


@dataclass(frozen=True)
class PrepareChoice:
    """What the user chose; the screen turns it into ``core.datasets.PrepareOptions``."""

    kind: str  # "cpt" | "ift" | "preference"
    model_path: str | None
    target_tokens: int
    mix_ratio: float
    valid_fraction: float
    name: str
    input_path: str | None = None  # IFT / preference: the JSONL file or folder (None: dataset/ift, dataset/preference)


def default_name(kind: str, model_path: str | None) -> str:
    model = (model_path or "").rstrip("/").rsplit("/", 1)[-1] or "words"
    return f"{kind}-{model}"


class PrepareDialog(ModalScreen[PrepareChoice | None]):
    """Dismisses with a :class:`PrepareChoice`, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without preparing."),
        Binding("ctrl+s", "submit", "Prepare", tooltip="Start preparing with these settings (also enter in a field)."),
    ]

    def __init__(self, models: list[tuple[str, str]], model_path: str | None, kind: str = "cpt",
                 input_path: str | None = None) -> None:
        super().__init__()
        self._models = models
        self._model = model_path if any(v == model_path for _l, v in models) else None
        self._kind = kind
        self._input = input_path  # a preference file highlighted in the tree: prepared instead of dataset/preference
        self._default = default_name(kind, self._model)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label("Prepare training data", classes="dialog-title")
            with Grid(id="prepare-form"):
                yield Label("kind")
                with RadioSet(id="prepare-kind", compact=True):
                    yield MarkedRadioButton("CPT text chunks", value=self._kind == "cpt", id="kind-cpt")
                    yield MarkedRadioButton("IFT conversations", value=self._kind == "ift", id="kind-ift")
                    yield MarkedRadioButton("Preference pairs", value=self._kind == "preference",
                                            id="kind-preference")
                yield Label("tokenizer of")
                yield Select(self._models, value=self._model if self._model else Select.NULL,
                             prompt="word estimate (no model)", id="prepare-model", compact=True)
                yield Label("target tokens")
                yield Input("512", id="prepare-target", type="integer", compact=True)
                yield Label("mix ratio")
                yield Input("0.8", id="prepare-mix", type="number", compact=True,
                            tooltip="Domain share of CPT tokens; the rest comes from dataset/general")
                yield Label("valid fraction")
                yield Input("0.1", id="prepare-valid", type="number", compact=True)
                yield Label("output data/")
                yield Input(self._default, id="prepare-name", compact=True,
                            restrict=r"[A-Za-z0-9._-]*", max_length=64)
            yield Static("CPT: text cut into chunks of the target length by the model's tokenizer; mix ratio "
                         "0.8 = 80% domain, 20% dataset/general (1 = none). IFT: dataset/ift JSONL. Preference: "
                         + (self._input.rsplit("/", 1)[-1] if self._input else "dataset/preference")
                         + " (chosen/rejected pairs).",
                         classes="dialog-hint")
            yield Static("", id="prepare-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Prepare", id="prepare-go", variant="primary", compact=True)
                yield Button("Cancel", id="prepare-cancel", compact=True)
            yield Label(form_hint("prepare"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#prepare-kind", RadioSet).focus()

    # ------------------------------------------------------------------ defaults follow the choices

    def _kind_value(self) -> str:
        for kind in ("ift", "preference"):
            if self.query_one(f"#kind-{kind}", RadioButton).value:
                return kind
        return "cpt"

    def _model_value(self) -> str | None:
        value = self.query_one("#prepare-model", Select).value
        return None if value == Select.NULL else str(value)

    @on(RadioSet.Changed)
    @on(Select.Changed)
    def _update_default_name(self) -> None:
        name = self.query_one("#prepare-name", Input)
        new = default_name(self._kind_value(), self._model_value())
        if name.value in ("", self._default):
            name.value = new
        self._default = new

    # ------------------------------------------------------------------ submit

    def _error(self, text: str) -> None:
        self.query_one("#prepare-error", Static).update(text)

    def _number(self, widget_id: str, cast, low: float, high: float, label: str):
        raw = self.query_one(widget_id, Input).value.strip()
        try:
            value = cast(raw)
        except ValueError:
            value = None
        if value is None or not (low <= value <= high):
            self._error(f"{label}: {raw or 'empty'} — enter a number from {low:g} to {high:g}")
            self.query_one(widget_id, Input).focus()
            return None
        return value

    def action_submit(self) -> None:
        target = self._number("#prepare-target", int, 16, 131072, "target tokens")
        if target is None:
            return
        mix = self._number("#prepare-mix", float, 0.05, 1.0, "mix ratio")
        if mix is None:
            return
        valid = self._number("#prepare-valid", float, 0.0, 0.5, "valid fraction")
        if valid is None:
            return
        from forgellm_tui.core.names import name_problem

        name = self.query_one("#prepare-name", Input).value.strip()
        if (problem := name_problem(name)) is not None:
            self._error(f"output name: {problem} — use letters, digits, '.', '_' or '-' (e.g. cpt-forge-tiny)")
            self.query_one("#prepare-name", Input).focus()
            return
        kind = self._kind_value()
        self.dismiss(PrepareChoice(kind, self._model_value(), target, mix, valid, name,
                                   self._input if kind == "preference" else None))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#prepare-go")
    def _go(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#prepare-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
