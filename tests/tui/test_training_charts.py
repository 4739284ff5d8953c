"""The Training screen's charts with a long run: every record kept, spikes kept when thinned, and the
drawing of 20,000 points shows the whole run (first and last iteration, lowest and highest loss)."""

from __future__ import annotations

import math
import time

from textual.app import App, ComposeResult

from forgellm_tui.tui.widgets.training_charts import SeriesPlot, TrainingCharts, thin


def test_thin_keeps_spikes_and_ends():
    points = [(i, 1.0 + 0.001 * math.sin(i)) for i in range(10_000)]
    points[4_321] = (4_321, 9.0)    # one divergent step
    points[7_000] = (7_000, -3.0)
    shown = thin(points, 80)
    assert len(shown) <= 162
    assert (4_321, 9.0) in shown and (7_000, -3.0) in shown
    assert shown[0][0] == 0 and shown[-1][0] == 9_999
    assert [x for x, _ in shown] == sorted(x for x, _ in shown)
    assert thin(points[:100], 80) == points[:100]  # short series are drawn as they are


class ChartsApp(App):
    def compose(self) -> ComposeResult:
        yield TrainingCharts()


def records(n: int) -> list[dict]:
    out = []
    for it in range(1, n + 1):
        rec = {"iteration": it, "training_loss": 8.0 * math.exp(-it / 4_000) + 0.5, "learning_rate": 1e-4,
               "tokens_per_second": 2_000.0 + (it % 50)}
        if it % 500 == 0:
            rec["validation_loss"] = rec["training_loss"] + (0.05 if it != 15_000 else -0.2)
        out.append(rec)
    return out


async def test_twenty_thousand_points_are_all_kept_and_drawn():
    app = ChartsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        charts = app.query_one(TrainingCharts)
        charts.reset(20_000)
        data = records(20_000)
        for start in range(0, len(data), 1_000):  # arriving in batches, as from a followed metrics.jsonl
            charts.add(data[start:start + 1_000])
        tic = time.perf_counter()
        charts.draw()
        await pilot.pause()
        plot = app.query_one("#chart-loss", SeriesPlot)
        text = "\n".join(line.text for line in plot.render_lines(plot.region.reset_offset))
        assert time.perf_counter() - tic < 30  # a sanity bound only; bench/bench_ui.py measures speed
        assert charts.records == data and len(charts.train) == 20_000 and len(charts.val) == 40
        assert charts.best_val()[0] == 15_000 and "best" in text and "@ 15000" in text
        axis = text.splitlines()[-1].split()
        assert axis[0] == "0" and axis[-1] == "20000"  # the x axis spans the whole run
