"""Pick a run folder to follow: the workspace's runs (active ones first) or any folder by path."""

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

from forgellm_tui.settings import RUN_FOLDERS

from ..widgets.run_status import STATE_STYLE


def run_problem(path: Path) -> str | None:
    """Why ``path`` cannot be followed (None when it is a run folder)."""
    from forgellm_tui.core.runs import is_run_folder

    if not path.is_dir():
        return f"{path}: not a folder — type the path of a run folder (models/cpt/<run>)"
    if not is_run_folder(path):
        return f"{path}: not a run folder (no run.json) — pick a folder under {RUN_FOLDERS}"
    return None


class RunPickerDialog(ModalScreen[Path | None]):
    """``runs`` are ``core.runs.RunInfo``; Enter follows the highlighted one or the typed path."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without following a run.")]

    def __init__(self, runs: list, workspace: Path) -> None:
        super().__init__()
        self._runs = sorted(runs, key=lambda r: not r.is_active)
        self._workspace = workspace

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="run-picker"):
            yield Label("Follow a run", classes="dialog-title")
            options = []
            for run in self._runs:
                label = Text(run.name, style="bold")
                label.append(f"  {run.status}", style=STATE_STYLE.get(run.status, "dim"))
                label.append(f"  it {run.iteration}" + (f"/{run.max_iterations}" if run.max_iterations else ""),
                             style="dim")
                options.append(Option(label, id=str(run.path)))
            yield OptionList(*options, id="run-options")
            yield Static("or type a run folder:", classes="dialog-body")
            yield Input(id="run-path", compact=True, placeholder=str(self._workspace / "models/cpt/<run>"))
            yield Static("", id="run-error", classes="dialog-error", markup=False)
            yield Label("enter follow · tab switch · esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        target = self.query_one("#run-options", OptionList) if self._runs else self.query_one("#run-path", Input)
        target.focus()

    @on(OptionList.OptionSelected, "#run-options")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id))

    @on(Input.Submitted, "#run-path")
    def _typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self._workspace / path
        problem = run_problem(path) if text else "type a folder, or pick a run above"
        if problem:
            self.query_one("#run-error", Static).update(f"✗ {problem}")
            return
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)
