"""The Training screen's form: the common config values, each with its error shown under it.

The screen loads a :class:`~forgellm_tui.tui.config_draft.ConfigDraft` with :meth:`ConfigForm.load`,
reads the texts with :meth:`ConfigForm.texts` and shows problems with :meth:`ConfigForm.show_errors`.
Every edit posts :class:`ConfigForm.Edited`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from ..config_draft import FORM_FIELDS, ConfigDraft, choices

LABELS = {"training_type": "type", "fine_tune_type": "fine-tune", "num_layers": "layers (-1 all)",
          "lora_rank": "LoRA rank", "max_iterations": "iterations", "epochs": "or epochs",
          "max_seq_length": "seq length", "learning_rate": "learning rate", "lr_schedule": "schedule",
          "warmup_steps": "warmup steps", "steps_per_eval": "eval every", "save_every": "save every",
          "early_stopping": "early stopping", "early_stopping_patience": "patience", "batch_size": "batch size",
          "name": "run name"}
PLACEHOLDERS = {"name": "automatic", "epochs": "use iterations", "model": "models/base/…", "data": "data/…"}


class ConfigForm(VerticalScroll):
    """One row per common field: label, input (or drop-down), and an error line when invalid."""

    DEFAULT_CSS = """
    ConfigForm { height: 1fr; padding: 0 1; }
    ConfigForm .form-row { height: 1; }
    ConfigForm .form-label { width: 16; color: $text-muted; }
    ConfigForm Input, ConfigForm Select { width: 1fr; }
    ConfigForm Input { background: $boost; }
    ConfigForm Input:focus { background: $primary 30%; }
    ConfigForm Input.-invalid { background: $error 40%; }
    ConfigForm .form-error { color: $error; height: auto; padding-left: 16; display: none; }
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
        for info in FORM_FIELDS:
            with Horizontal(classes="form-row"):
                yield Label(LABELS.get(info.name, info.name.replace("_", " ")), classes="form-label")
                options = choices(info)
                if options is None:
                    field = Input(id=f"f-{info.name}", compact=True, select_on_focus=False,
                                  placeholder=PLACEHOLDERS.get(info.name, ""))
                else:
                    shown = [(o or "default", o) for o in options]
                    field = Select(shown, id=f"f-{info.name}", allow_blank=False, compact=True, value=options[0])
                field.tooltip = info.help
                yield field
            yield Static("", id=f"e-{info.name}", classes="form-error", markup=False)

    def load(self, draft: ConfigDraft) -> None:
        """Show the draft's starting values (posts no Edited)."""
        with self.prevent(Input.Changed, Select.Changed):
            for info in FORM_FIELDS:
                text = draft.base[info.name]
                field = self.query_one(f"#f-{info.name}")
                if isinstance(field, Select):
                    options = choices(info) or ()
                    field.value = text if text in options else options[0]
                else:
                    field.value = text
        self.show_errors({})

    def texts(self) -> dict[str, str]:
        """Field name -> the text (or drop-down value) shown now."""
        out = {}
        for info in FORM_FIELDS:
            field = self.query_one(f"#f-{info.name}")
            value = field.value
            out[info.name] = "" if value is Select.BLANK or value is None else str(value)
        return out

    def set_text(self, name: str, text: str) -> None:
        """Type ``text`` into a field (posts Edited like a user edit)."""
        self.query_one(f"#f-{name}").value = text

    def show_errors(self, errors: dict[str, str]) -> None:
        """Mark the fields in ``errors`` and show each message under its field."""
        for info in FORM_FIELDS:
            message = errors.get(info.name)
            line = self.query_one(f"#e-{info.name}", Static)
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
    @on(Select.Changed)
    def _edited(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        name = (event.control.id or "").removeprefix("f-")
        self.post_message(self.Edited(self, name))
