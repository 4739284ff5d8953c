"""The "what it says now" pane of the Training screen: the newest sample of each prompt, with its
iteration, and earlier sampling points one key press away (``[`` older, ``]`` newer).

It keeps every record of the run (a few per sampling point) and shows one sampling point; while it
shows the newest one it moves on with each new sample, once paged back it stays where the user is.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

EMPTY = "no samples yet — set sample_prompts in the config (the demo configs have two)"


class SamplesPane(VerticalScroll):
    """Call :meth:`add` with samples.jsonl records, :meth:`reset` for another run."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.records: list[dict] = []
        self.shown: int | None = None
        """The iteration shown; None: the newest."""

    def compose(self):
        yield Static(EMPTY, id="samples-body", markup=False)

    def on_mount(self) -> None:
        self._show()

    # ------------------------------------------------------------------ data
    def reset(self, records: list[dict] | None = None) -> None:
        self.records, self.shown = list(records or []), None
        self._show()

    def add(self, records: list[dict]) -> None:
        if records:
            self.records.extend(records)
            self._show()

    def iterations(self) -> list[int]:
        from forgellm_tui.core.runs import sample_iterations

        return sample_iterations(self.records)

    @property
    def iteration(self) -> int | None:
        """The sampling point on screen (None when there is none)."""
        points = self.iterations()
        if not points:
            return None
        return self.shown if self.shown in points else points[-1]

    # ------------------------------------------------------------------ paging
    def page(self, step: int) -> bool:
        """Show the sampling point ``step`` places later (negative: earlier); False at either end."""
        points, current = self.iterations(), self.iteration
        if current is None:
            return False
        index = points.index(current) + step
        if not 0 <= index < len(points):
            return False
        self.shown = None if index == len(points) - 1 else points[index]
        self._show()
        self.scroll_home(animate=False)
        return True

    # ------------------------------------------------------------------ drawing
    def _show(self) -> None:
        from forgellm_tui.core.runs import at_iteration

        if not self.is_mounted:
            return
        points, current = self.iterations(), self.iteration
        body = self.query_one("#samples-body", Static)
        if current is None:
            self.border_title, self.border_subtitle = "what it says now", ""
            body.update(EMPTY)
            return
        at = points.index(current) + 1
        newest = at == len(points)
        self.border_title = f"what it says now · it {current}" if newest else f"samples · it {current}"
        self.border_subtitle = f"{at}/{len(points)} · [ older" + ("" if newest else " · ] newer")
        text = Text()
        for record in at_iteration(self.records, current):
            if text:
                text.append("\n\n")
            text.append(record["prompt"], style="bold")
            text.append("\n" + (record["text"].strip("\n") or "(nothing: an end-of-text token first)"))
        body.update(text)
