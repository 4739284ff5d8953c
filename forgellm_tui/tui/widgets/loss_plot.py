"""A small loss chart (textual-plotext) for one run's curves or several runs' validation curves."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ...format import distinct_labels

Series = list[tuple[int, float]]
COLORS = ("cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white")


class LossPlot(PlotextPlot):
    """Call :meth:`show_run`, :meth:`show_compare` or :meth:`show_empty`; it redraws once."""

    DEFAULT_CSS = """
    LossPlot { min-height: 6; min-width: 24; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines: dict[str, Series] = {}
        """What is drawn now: label -> points."""

    def on_mount(self) -> None:
        self.plt.xlabel("iteration")

    def _reset(self, title: str) -> None:
        self.lines = {}
        self.plt.clear_data()
        self.plt.clear_figure()
        self.plt.title(title)
        self.plt.xlabel("iteration")

    def show_run(self, train: Series, val: Series, marked: int | None = None) -> None:
        """Training and validation loss; ``marked`` (e.g. the best iteration) gets a vertical line."""
        self._reset("loss")
        if train:
            self.lines["train"] = train
            self.plt.plot([i for i, _ in train], [v for _, v in train], label="train", color="cyan",
                          marker="braille")
        if val:
            self.lines["validation"] = val
            self.plt.plot([i for i, _ in val], [v for _, v in val], label="validation", color="orange",
                          marker="braille")
            self.plt.scatter([i for i, _ in val], [v for _, v in val], color="orange", marker="dot")
        if marked is not None and marked >= 0 and (train or val):
            self.plt.vline(marked, color="green")
        if not train and not val:
            self.plt.title("loss: no metrics recorded")
        self.refresh()

    def show_compare(self, series: list[tuple[str, Series]]) -> None:
        """One validation-loss line per run, overlaid."""
        self._reset("validation loss")
        labels = distinct_labels([name for name, _ in series], 24)
        for n, ((_name, points), label) in enumerate(zip(series, labels)):
            if points:
                self.lines[label] = points
                self.plt.plot([i for i, _ in points], [v for _, v in points], label=label,
                              color=COLORS[n % len(COLORS)], marker="braille")
        self.refresh()

    def show_empty(self, title: str) -> None:
        self._reset(title)
        self.refresh()
