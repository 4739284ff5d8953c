"""The Training screen's form: the common config values, each with its error shown under it.

The screen loads a :class:`~forgellm_tui.tui.config_draft.ConfigDraft` with :meth:`ConfigForm.load`,
reads the texts with :meth:`ConfigForm.texts` and shows problems with :meth:`ConfigForm.show_errors`.
Every edit posts :class:`ConfigForm.Edited`. Fields with a few allowed values are a one-line
:class:`ChoiceField` (←/→ to change) rather than a drop-down: the form stays light to lay out and
to show again when the screen switches views during a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from ..config_draft import FORM_FIELDS, ConfigDraft, choices
from ..fields import INTEGER_CHARS, NUMBER_CHARS

LABELS = {"training_type": "type", "fine_tune_type": "fine-tune", "num_layers": "layers (-1 all)",
          "lora_rank": "LoRA rank", "max_iterations": "iterations", "epochs": "or epochs",
          "max_seq_length": "seq length", "learning_rate": "learning rate", "lr_schedule": "schedule",
          "warmup_steps": "warmup steps", "steps_per_eval": "eval every", "save_every": "save every",
          "early_stopping": "early stopping", "early_stopping_patience": "patience", "batch_size": "batch size",
          "name": "run name"}
RESTRICT = {int: INTEGER_CHARS, float: NUMBER_CHARS}
"""Number fields refuse other characters as they are typed (a value loaded from a file is shown as is)."""
PLACEHOLDERS = {"name": "automatic", "epochs": "use iterations", "model": "models/base/…", "data": "data/…"}


class ChoiceField(Widget, can_focus=True):
    """One of a few values, shown as ``‹ value ›``; ←/→ (or space, or a click) change it."""

    DEFAULT_CSS = """
    ChoiceField { height: 1; width: 1fr; background: $boost; padding: 0 1; }
    ChoiceField:focus { background: $primary 30%; }
    ChoiceField.-invalid { background: $error 40%; }
    """
    BINDINGS = [Binding("left", "step(-1)", "Previous", show=False),
                Binding("right,space", "step(1)", "Next", show=False)]

    value = reactive("")
    """The chosen value ("" stands for the default)."""

    @dataclass
    class Changed(Message):
        field: "ChoiceField"
        value: str

        @property
        def control(self) -> "ChoiceField":
            return self.field

    def __init__(self, options: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.options = options
        self.set_reactive(ChoiceField.value, options[0])

    def render(self) -> Text:
        shown = self.value or "default"
        return Text.assemble(("‹ ", "dim"), shown, (" ›", "dim"))

    def action_step(self, delta: int) -> None:
        index = self.options.index(self.value) if self.value in self.options else 0
        self.value = self.options[(index + delta) % len(self.options)]

    def on_click(self) -> None:
        self.action_step(1)

    def watch_value(self, value: str) -> None:
        self.post_message(self.Changed(self, value))


class ConfigForm(VerticalScroll):
    """One row per common field: label, input (or choice), and an error line when invalid."""

    DEFAULT_CSS = """
    ConfigForm { height: 1fr; padding: 0 1; }
    ConfigForm > Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: auto; height: auto; }
    ConfigForm .form-label { color: $text-muted; }
    ConfigForm Input { width: 1fr; background: $boost; }
    ConfigForm Input:focus { background: $primary 30%; }
    ConfigForm Input.-invalid { background: $error 40%; }
    ConfigForm .form-error { color: $error; height: auto; column-span: 2; padding-left: 16; display: none; }
    ConfigForm .form-error.-shown { display: block; }
    """

    @dataclass
    class Edited(Message):
        """A field changed (``name``)."""

        form: "ConfigForm"
        name: str

        @property
        def control(self) -> "ConfigForm":
            return self.form

    def compose(self) -> ComposeResult:
        with Grid():
            for info in FORM_FIELDS:
                yield Label(LABELS.get(info.name, info.name.replace("_", " ")), classes="form-label")
                options = choices(info)
                if options is None:
                    field = Input(id=f"f-{info.name}", compact=True, select_on_focus=False,
                                  placeholder=PLACEHOLDERS.get(info.name, ""), restrict=RESTRICT.get(info.type))
                    field.tooltip = info.help
                else:
                    field = ChoiceField(options, id=f"f-{info.name}")
                    field.tooltip = f"{info.help} (←/→ to change)"
                yield field
                yield Static("", id=f"e-{info.name}", classes="form-error", markup=False)

    def load(self, draft: ConfigDraft) -> None:
        """Show the draft's starting values (posts no Edited)."""
        with self.prevent(Input.Changed, ChoiceField.Changed):
            for info in FORM_FIELDS:
                text = draft.base[info.name]
                field = self.query_one(f"#f-{info.name}")
                if isinstance(field, ChoiceField):
                    field.value = text if text in field.options else field.options[0]
                else:
                    field.value = text
        self.show_errors({})

    def texts(self) -> dict[str, str]:
        """Field name -> the text (or choice) shown now."""
        return {info.name: str(self.query_one(f"#f-{info.name}").value or "") for info in FORM_FIELDS}

    def set_text(self, name: str, text: str) -> None:
        """Put ``text`` into a field (posts Edited like a user edit)."""
        self.query_one(f"#f-{name}").value = text

    def show_errors(self, errors: dict[str, str]) -> None:
        """Mark the fields in ``errors`` and show each message under its field."""
        for info in FORM_FIELDS:
            message = errors.get(info.name)
            line = self.query_one(f"#e-{info.name}", Static)
            if message or line.has_class("-shown"):
                line.update(f"✗ {message}" if message else "")
                line.set_class(bool(message), "-shown")
            self.query_one(f"#f-{info.name}").set_class(bool(message), "-invalid")

    def first_invalid(self) -> str | None:
        for info in FORM_FIELDS:
            if self.query_one(f"#f-{info.name}").has_class("-invalid"):
                return info.name
        return None

    def focus_field(self, name: str) -> None:
        self.query_one(f"#f-{name}").focus()

    @on(Input.Changed)
    @on(ChoiceField.Changed)
    def _edited(self, event: Input.Changed | ChoiceField.Changed) -> None:
        event.stop()
        name = (event.control.id or "").removeprefix("f-")
        self.post_message(self.Edited(self, name))
