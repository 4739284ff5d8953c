"""Live charts of a run (textual-plotext): loss (train + validation, best marked), learning rate, tokens/s.
A setting changed while the run trained is a vertical line at its iteration on every chart.

A preference run (DPO, ORPO: its records carry ``reward_accuracy`` / ``val_reward_accuracy``) shows reward
accuracy and reward margin (ORPO: the log-odds ratio), training and validation, in the place of learning
rate and tokens/s, which the status pane still gives as numbers: three rows of charts do not fit 80x24.

:meth:`TrainingCharts.add` keeps every metrics record it is given (``records``) and only marks the
charts dirty; a timer redraws them at most ``REDRAW_HZ`` times a second, and only while they are on
screen. A long run's thousands of points are thinned to two per column (the lowest and the highest
of each column) before drawing, so a redraw costs the same at 100 or 100 000 points.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual_plotext import PlotextPlot

Points = list[tuple[int, float]]
REDRAW_HZ = 4
"""Most redraws per second."""


def thin(points: Points, columns: int) -> Points:
    """At most ``2 * columns + 2`` points: per column, the lowest and highest (in x order), plus the first
    and the last point. Keeps spikes."""
    if columns < 1 or len(points) <= 2 * columns:
        return points
    lo, hi = points[0][0], points[-1][0]
    span = max(hi - lo, 1)
    out: Points = []
    bucket: Points = []
    current = 0
    for point in points:
        index = min(int((point[0] - lo) * columns / span), columns - 1)
        if index != current and bucket:
            out.extend(_extremes(bucket))
            bucket = []
        current = index
        bucket.append(point)
    if bucket:
        out.extend(_extremes(bucket))
    if out[0] != points[0]:  # the line spans the whole run: the first and the newest point are always drawn
        out.insert(0, points[0])
    if out[-1] != points[-1]:
        out.append(points[-1])
    return out


def _extremes(bucket: Points) -> Points:
    low = min(bucket, key=lambda p: p[1])
    high = max(bucket, key=lambda p: p[1])
    if low is high:
        return [low]
    return [low, high] if low[0] <= high[0] else [high, low]


class SeriesPlot(PlotextPlot):
    """One chart; :meth:`draw` replaces its lines (called by :class:`TrainingCharts`)."""

    DEFAULT_CSS = "SeriesPlot { min-height: 5; min-width: 20; }"

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.draws = 0
        """How many times it was redrawn (tests and the benchmark read it)."""

    def on_mount(self) -> None:
        super().on_mount()
        self.plt.title(self.title)

    def render(self):
        """plotext's drawing, built again only after :meth:`finish`, a resize or a theme change.

        Textual renders a widget again whenever it is shown or the layout changes (switching views,
        a dialog closing); without this cache each of those would rebuild all three plots.
        """
        key = (self.size, self.draws, self.app.theme, self.theme)
        if key != getattr(self, "_cache_key", None):
            self._cache_key, self._cache = key, super().render()
        return self._cache

    def columns(self) -> int:
        return max(self.size.width - 10, 10)

    def begin(self, x_max: int | None) -> None:
        self.plt.clear_data()
        self.plt.title(self.title)
        self.plt.xlim(0, x_max if x_max else None)

    def line(self, points: Points, label: str | None, color: str) -> None:
        if points:
            shown = thin(points, self.columns())
            self.plt.plot([x for x, _ in shown], [y for _, y in shown], label=label, color=color, marker="braille")

    def marks(self, points: Points, label: str | None, color: str, marker: str) -> None:
        if points:
            shown = thin(points, self.columns())
            self.plt.scatter([x for x, _ in shown], [y for _, y in shown], label=label, color=color, marker=marker)

    def finish(self) -> None:
        self.draws += 1
        self.refresh()


class TrainingCharts(Vertical):
    """Loss on top; learning rate and tokens/s side by side below."""

    DEFAULT_CSS = """
    TrainingCharts { height: 1fr; }
    TrainingCharts #chart-loss { height: 3fr; }
    TrainingCharts #chart-row { height: 2fr; }
    TrainingCharts .-preference { display: none; }
    TrainingCharts.-preference-run .-preference { display: block; }
    TrainingCharts.-preference-run .-lm { display: none; }
    """
    #: record key -> series name; the preference keys are present only on DPO / ORPO runs
    SERIES = {"training_loss": "train", "validation_loss": "val", "learning_rate": "lr", "tokens_per_second": "tps",
              "reward_accuracy": "acc", "val_reward_accuracy": "val_acc", "reward_margin": "margin",
              "val_reward_margin": "val_margin", "log_odds_ratio": "odds", "val_log_odds_ratio": "val_odds"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.records: list[dict] = []
        """Every metrics record received, in order (none is dropped)."""
        self.train: Points = []
        self.val: Points = []
        self.lr: Points = []
        self.tps: Points = []
        self._clear_preference()
        self.max_iterations: int | None = None
        self.changes: list[int] = []
        """Iterations at which a setting changed while the run trained (a vertical line on each chart)."""
        self.dirty = False

    def compose(self) -> ComposeResult:
        yield SeriesPlot("loss", id="chart-loss")
        with Horizontal(id="chart-row"):
            yield SeriesPlot("learning rate", id="chart-lr", classes="-lm")
            yield SeriesPlot("tokens/s", id="chart-tps", classes="-lm")
            yield SeriesPlot("reward accuracy", id="chart-reward-accuracy", classes="-preference")
            yield SeriesPlot("reward margin", id="chart-reward-margin", classes="-preference")

    def on_mount(self) -> None:
        self.set_interval(1 / REDRAW_HZ, self._redraw_if_dirty)
        self.draw()

    # ------------------------------------------------------------------ data
    def reset(self, max_iterations: int | None = None) -> None:
        self.records, self.train, self.val, self.lr, self.tps = [], [], [], [], []
        self._clear_preference()
        self.changes = []
        self.max_iterations = max_iterations
        self.dirty = True

    def set_max_iterations(self, value: int | None) -> None:
        if value != self.max_iterations:
            self.max_iterations = value
            self.dirty = True

    def set_changes(self, iterations: list[int]) -> None:
        """The iterations of the run's live changes (``run.json``'s ``changes``), replacing the known ones."""
        marks = sorted({int(i) for i in iterations if isinstance(i, int)})
        if marks != self.changes:
            self.changes = marks
            self.dirty = True

    def add_change(self, iteration: int) -> None:
        self.set_changes([*self.changes, iteration])

    def add(self, records: list[dict]) -> None:
        """Append metrics records (metrics.jsonl lines); the next timer tick redraws."""
        for rec in records:
            self.records.append(rec)
            it = rec.get("iteration")
            if not isinstance(it, int):
                continue
            for key, name in self.SERIES.items():
                value = rec.get(key)
                if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
                    getattr(self, name).append((it, float(value)))
        if records:
            self.dirty = True

    def _clear_preference(self) -> None:
        self.acc: Points = []
        self.val_acc: Points = []
        self.margin: Points = []
        self.val_margin: Points = []
        self.odds: Points = []
        self.val_odds: Points = []

    @property
    def preference(self) -> bool:
        """Whether the run is a preference run (its records carry reward accuracy)."""
        return bool(self.acc or self.val_acc)

    def best_val(self) -> tuple[int, float] | None:
        """The lowest validation loss after training started (iteration 0 is the baseline)."""
        candidates = [p for p in self.val if p[0] > 0]
        return min(candidates, key=lambda p: p[1]) if candidates else None

    # ------------------------------------------------------------------ drawing
    def _redraw_if_dirty(self) -> None:
        if self.dirty and self.screen.is_current and self.is_on_screen:
            self.draw()

    def draw(self) -> None:
        """Redraw the three charts now."""
        self.dirty = False
        x_max = max(self.max_iterations or 0, self.records[-1].get("iteration", 0) if self.records else 0) or None
        loss = self.query_one("#chart-loss", SeriesPlot)
        loss.begin(x_max)
        loss.line(self.train, "train", "cyan")
        loss.line(self.val, None, "orange")
        loss.marks(self.val, "val", "orange", "•")
        best = self.best_val()
        if best is not None:
            loss.marks([best], f"best {best[1]:.3f} @ {best[0]}", "green", "◆")
        if not self.train and not self.val:
            loss.plt.title("loss: waiting for the first metrics")
        self._mark_changes(loss)
        loss.finish()
        self.set_class(self.preference, "-preference-run")
        if self.preference:
            self._draw_preference(x_max)
            return
        for chart_id, points, color in (("#chart-lr", self.lr, "magenta"), ("#chart-tps", self.tps, "green")):
            chart = self.query_one(chart_id, SeriesPlot)
            chart.begin(x_max)
            chart.line(points, None, color)
            self._mark_changes(chart)
            chart.finish()

    def _draw_preference(self, x_max: int | None) -> None:
        """Reward accuracy and reward margin (ORPO without a margin: the log-odds ratio), train and val."""
        margin = (self.margin, self.val_margin, "reward margin") if self.margin or self.val_margin else \
            (self.odds, self.val_odds, "log-odds ratio")
        for chart_id, train, val, title in (("#chart-reward-accuracy", self.acc, self.val_acc, "reward accuracy"),
                                            ("#chart-reward-margin", *margin)):
            chart = self.query_one(chart_id, SeriesPlot)
            chart.title = title
            chart.begin(x_max)
            if chart_id == "#chart-reward-accuracy":
                chart.plt.ylim(0, 1)  # a fraction of pairs: the whole range, so 0.5 (chance) sits mid-chart
            chart.line(train, "train", "cyan")
            chart.line(val, None, "orange")
            chart.marks(val, "val", "orange", "•")
            self._mark_changes(chart)
            chart.finish()

    def _mark_changes(self, chart: SeriesPlot) -> None:
        for iteration in self.changes:
            chart.plt.vline(iteration, "yellow")
