"""The offer at start: resume runs that stopped because the terminal or the app went away."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from .keys import key_label, question_hint

ANSWERS = [("y", "Yes, resume", "resume"), ("n", "Not now", "later"), ("d", "Don't ask again", "never")]


def run_line(run) -> Text:
    """Name on the first line; where it stopped and why on the second."""
    total = f" of {run.max_iterations:,}" if run.max_iterations else ""
    return Text.assemble((run.name, "bold"), "\n", (f"  stopped at iteration {run.iteration:,}{total}: "
                                                      f"{run.stop_reason}", "dim"))


class ResumeDialog(ModalScreen[tuple[str, Path] | None]):
    """``runs`` (``core.runs.RunInfo``, newest first). Dismisses with ``("resume", run)`` for the
    highlighted run, ``("never", None)`` to stop offering all of them, or None (not now)."""

    DEFAULT_CSS = """
    #resume-runs { height: auto; max-height: 8; border: none; }
    """

    BINDINGS = [
        Binding("y", "answer('resume')", "Resume", tooltip="Resume the highlighted run."),
        Binding("n,escape", "answer('later')", "Not now", tooltip="Not now (asked again at the next start)."),
        Binding("d", "answer('never')", "Never", tooltip="Do not offer these runs again."),
    ]

    def __init__(self, runs: list) -> None:
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        many = len(self.runs) > 1
        with Vertical(classes="dialog -wide", id="resume-dialog"):
            yield Label("Resume training?", classes="dialog-title")
            yield Static(("These runs" if many else "This run") + " stopped when the app quit or the terminal "
                         "went away; resuming continues exactly from the newest checkpoint.",
                         classes="dialog-body", markup=False)
            yield OptionList(*[Option(run_line(run), id=str(i)) for i, run in enumerate(self.runs)],
                             id="resume-runs")
            with Horizontal(classes="dialog-buttons"):
                for key, label, value in ANSWERS:
                    yield Button(key_label(key, label), id=f"resume-{value}", compact=True,
                                 variant="primary" if value == "resume" else "default")
            yield Label(question_hint([key for key, _label, _value in ANSWERS]) +
                        (" · ↑↓ which run" if many else ""), classes="dialog-hint")

    def on_mount(self) -> None:
        runs = self.query_one("#resume-runs", OptionList)
        runs.highlighted = 0
        runs.focus()

    def _highlighted(self):
        index = self.query_one("#resume-runs", OptionList).highlighted
        return self.runs[index or 0]

    @on(OptionList.OptionSelected, "#resume-runs")
    def _selected(self) -> None:
        self.action_answer("resume")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer((event.button.id or "").removeprefix("resume-"))

    def action_answer(self, answer: str) -> None:
        if answer == "resume":
            self.dismiss(("resume", self._highlighted().path))
        elif answer == "never":
            self.dismiss(("never", None))
        else:
            self.dismiss(None)
