"""Publish a checkpoint: which one, under what name, in which format (MLX, MLX quantized, GGUF), de-quantized
or not. For MLX quantized: bits, group size and mode, with the size estimate before any work starts."""

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

FORMATS = [("MLX (fused, full precision)", "mlx"), ("MLX quantized", "mlx-q"), ("GGUF + Ollama Modelfile", "gguf")]
BITS, GROUPS = (2, 3, 4, 5, 6, 8), (16, 32, 64, 128)
#: test rows the app measures perplexity on before and after quantizing (the CLI measures all by default)
APP_EVAL_ROWS = 64
HINTS = {
    "mlx": "Writes {dir}/<name>/: the fused model, README.md, metadata.json, training_config.yaml and dashboard.png.",
    "mlx-q": "Fuses, quantizes with mlx-lm, and measures the test perplexity before and after (first "
             f"{APP_EVAL_ROWS} test rows of the run's data) for the card.",
    "gguf": "Also writes model.gguf and an Ollama Modelfile (llama, mistral and mixtral models).",
}


@dataclass(frozen=True)
class PublishRequest:
    """What the user chose: ``checkpoint`` is ``best`` or an iteration (as text); ``fmt`` mlx, mlx-q or gguf."""

    checkpoint: str
    name: str
    dequantize: bool
    fmt: str = "mlx"
    bits: int = 4
    group_size: int = 64
    mode: str = "affine"


class PublishDialog(ModalScreen[PublishRequest | None]):
    """Enter in the name or ctrl+s publishes, Esc cancels. The name follows the checkpoint until it is edited."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without publishing."),
                Binding("ctrl+s", "submit", "Publish", tooltip="Publish with these settings (also enter in the name).")]

    def __init__(self, run_name: str, choices: list[tuple[str, str, int]], published_dir: Path,
                 selected: str = "best", quantized: bool = False, base_model: Path | None = None) -> None:
        """``choices``: (label, value, iteration) for each checkpoint, best first."""
        super().__init__()
        self._run, self._choices, self._published = run_name, choices, published_dir
        self._selected = selected if any(v == selected for _, v, _ in choices) else choices[0][1]
        self._quantized, self._base = quantized, base_model
        self._auto_name = self._default(self._selected)

    def _default(self, value: str, fmt: str = "mlx", bits: int = 4) -> str:
        it = next((it for _, v, it in self._choices if v == value), 0)
        return f"{self._run}-it{it}" + (f"-q{bits}" if fmt == "mlx-q" else "")

    def compose(self) -> ComposeResult:
        from forgellm_tui.core.export import MODES

        with Vertical(classes="dialog -wide", id="publish-dialog"):
            yield Label(f"Publish a checkpoint of {self._run}", classes="dialog-title")
            with Grid(id="publish-form"):
                yield Label("checkpoint")
                yield Select([(label, value) for label, value, _ in self._choices], value=self._selected,
                             allow_blank=False, id="publish-checkpoint", compact=True)
                yield Label("name")
                yield Input(self._auto_name, id="publish-name", compact=True)
                yield Label("format")
                yield Select(FORMATS, value="mlx", allow_blank=False, id="publish-format", compact=True)
                yield Label("quantize")
                with Horizontal(id="publish-quant"):
                    yield Select([(f"{b}-bit", b) for b in BITS], value=4, allow_blank=False, id="publish-bits",
                                 compact=True, disabled=True)
                    yield Select([(f"group {g}", g) for g in GROUPS], value=64, allow_blank=False,
                                 id="publish-group", compact=True, disabled=True)
                    yield Select([(m, m) for m in MODES], value="affine", allow_blank=False, id="publish-mode",
                                 compact=True, disabled=True)
                yield Label("")
                yield MarkedCheckbox("de-quantize the base while fusing", self._quantized, id="publish-dequantize",
                                     compact=True)
            yield Static("", id="publish-estimate", markup=False)
            yield Static("", id="publish-error", classes="dialog-error", markup=False)
            yield Static("", id="publish-hint", classes="dialog-hint", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Publish", id="publish-go", variant="primary", compact=True)
                yield Button("Cancel", id="publish-cancel", compact=True)
            yield Label(form_hint("publish"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#publish-name", Input).focus()
        self._refresh()

    def _values(self) -> tuple[str, int, int, str]:
        fmt = str(self.query_one("#publish-format", Select).value)
        return (fmt, int(self.query_one("#publish-bits", Select).value),
                int(self.query_one("#publish-group", Select).value), str(self.query_one("#publish-mode", Select).value))

    def _refresh(self) -> None:
        """Enable the quantization settings for MLX quantized; show the size estimate and what will be written."""
        fmt, bits, group, mode = self._values()
        for sel in ("#publish-bits", "#publish-group", "#publish-mode"):
            self.query_one(sel, Select).disabled = fmt != "mlx-q"
        hint = HINTS[fmt].format(dir=self._published.name)
        if self._quantized:
            hint += "\nThe base is quantized: de-quantizing keeps the adapter's full effect."
        self.query_one("#publish-hint", Static).update(hint)
        self.query_one("#publish-estimate", Static).update(self._estimate(fmt, bits, group, mode))

    def _estimate(self, fmt: str, bits: int, group: int, mode: str) -> str:
        from forgellm_tui.core.errors import ForgeError
        from forgellm_tui.core.export import quant_settings, size_estimate

        if self._base is None:
            return ""
        try:
            qs = quant_settings(bits, group, mode) if fmt == "mlx-q" else None
        except ForgeError as exc:
            return f"not supported: {exc.message}"
        now, after = size_estimate(self._base, qs)
        if qs is None:
            return f"size: about {now / 1e6:.1f} MB" + (" (+ the same again for model.gguf)" if fmt == "gguf" else "")
        return f"size: {now / 1e6:.1f} MB → about {after / 1e6:.1f} MB ({qs.describe()})"

    @on(Select.Changed, "#publish-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        from forgellm_tui.core.export import MODE_PAIRS

        pair = MODE_PAIRS.get(str(event.value))
        if pair is not None:  # the float formats take one (bits, group size) pair
            self.query_one("#publish-bits", Select).value = pair[0]
            self.query_one("#publish-group", Select).value = pair[1]
        self._refresh()

    @on(Select.Changed, "#publish-checkpoint")
    @on(Select.Changed, "#publish-format")
    @on(Select.Changed, "#publish-bits")
    @on(Select.Changed, "#publish-group")
    def _choice_changed(self) -> None:
        name = self.query_one("#publish-name", Input)
        fmt, bits, _group, _mode = self._values()
        if name.value == self._auto_name:  # not edited by hand: follow the checkpoint and format
            self._auto_name = self._default(str(self.query_one("#publish-checkpoint", Select).value), fmt, bits)
            name.value = self._auto_name
        self._refresh()

    @on(Input.Submitted, "#publish-name")
    @on(Button.Pressed, "#publish-go")
    def action_submit(self) -> None:
        from forgellm_tui.core.errors import ForgeError
        from forgellm_tui.core.export import quant_settings
        from forgellm_tui.core.publish import check_name

        name = self.query_one("#publish-name", Input).value.strip()
        error = self.query_one("#publish-error", Static)
        fmt, bits, group, mode = self._values()
        try:
            check_name(name)
            if fmt == "mlx-q":
                quant_settings(bits, group, mode)
        except ForgeError as exc:
            error.update(f"{exc.message} — {exc.hint}")
            return
        if (self._published / name).exists():
            error.update(f"published/{name} already exists — choose another name")
            return
        value = self.query_one("#publish-checkpoint", Select).value
        self.dismiss(PublishRequest(str(value), name, self.query_one("#publish-dequantize", Checkbox).value,
                                    fmt, bits, group, mode))

    @on(Button.Pressed, "#publish-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
