"""The settings a running run can change (live changes), with their current values, in one form."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from .keys import CANCEL, SUBMIT


class LiveSettingsDialog(ModalScreen[dict | None]):
    """One field per live key, filled with its current value. Confirm (Enter or ctrl+s) dismisses with the
    checked changes ``{key: value}`` (only the fields edited); a refused value shows its line and the
    dialog stays; Esc dismisses with None."""

    BINDINGS = [CANCEL, SUBMIT]
    DEFAULT_CSS = """
    LiveSettingsDialog .live-row { height: 1; width: 1fr; }
    LiveSettingsDialog .live-key { width: 26; }
    LiveSettingsDialog .live-row Input { width: 1fr; }
    """

    def __init__(self, name: str, values: dict) -> None:
        super().__init__()
        self._name, self._values = name, dict(values)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label(f"Change {self._name} (applied between two steps)", classes="dialog-title")
            for key, value in self._values.items():
                with Horizontal(classes="live-row"):
                    yield Label(key, classes="live-key")
                    yield Input(_text(value), id=f"live-{key}", compact=True)
            yield Static("", id="live-error", classes="dialog-error", markup=False)
            yield Label("enter or ctrl+s apply · tab next field · esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def edited(self) -> dict:
        """The fields whose text differs from the value shown at first (as typed, parsed like YAML)."""
        import yaml

        out = {}
        for key, value in self._values.items():
            text = self.query_one(f"#live-{key}", Input).value.strip()
            if text != _text(value):
                try:
                    out[key] = yaml.safe_load(text) if text else None
                except yaml.YAMLError:
                    out[key] = text
        return out

    @on(Input.Submitted)
    def action_submit(self) -> None:
        from forgellm_tui.core.config import ConfigFieldError
        from forgellm_tui.core.training import check_changes

        try:
            checked = check_changes(self.edited())
        except ConfigFieldError as exc:
            self.query_one("#live-error", Static).update(f"✗ {'; '.join(f'{k}: {m}' for k, m in exc.errors.items())}")
            return
        self.dismiss(checked)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _text(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
