"""The charts of a preference run: reward accuracy and reward margin (training and validation) take the
place of learning rate and tokens/s, at 80x24; an LM run keeps its charts."""

from __future__ import annotations

from textual.app import App, ComposeResult

from forgellm_tui.tui.widgets.training_charts import SeriesPlot, TrainingCharts


class ChartsApp(App):
    def compose(self) -> ComposeResult:
        yield TrainingCharts()


def chart_text(app, chart_id: str) -> str:
    plot = app.query_one(chart_id, SeriesPlot)
    return "\n".join(line.text for line in plot.render_lines(plot.region.reset_offset))


def dpo_records(n: int = 40) -> list[dict]:
    out = []
    for it in range(1, n + 1):
        rec = {"iteration": it, "training_loss": 0.69 - it / 200, "learning_rate": 1e-5, "tokens_per_second": 900.0,
               "rewards_chosen": it / 100, "rewards_rejected": -it / 100, "reward_margin": it / 50,
               "reward_accuracy": min(1.0, 0.5 + it / 80)}
        if it % 10 == 0:
            rec.update(validation_loss=rec["training_loss"] + 0.02, val_reward_margin=it / 60,
                       val_reward_accuracy=min(1.0, 0.45 + it / 100))
        out.append(rec)
    return out


async def test_a_dpo_run_charts_reward_accuracy_and_margin_at_80x24():
    app = ChartsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        charts = app.query_one(TrainingCharts)
        charts.reset(40)
        charts.add([{"iteration": 0, "validation_loss": 0.69, "val_reward_accuracy": 0.0, "val_reward_margin": 0.0}])
        charts.add(dpo_records())
        charts.draw()
        await pilot.pause()
        assert charts.preference and len(charts.acc) == 40 and len(charts.val_acc) == 5
        for shown in ("#chart-reward-accuracy", "#chart-reward-margin"):
            plot = app.query_one(shown, SeriesPlot)
            assert plot.display and plot.region.width >= 20 and plot.region.height >= 5, shown
        for hidden in ("#chart-lr", "#chart-tps"):
            assert not app.query_one(hidden, SeriesPlot).display
        accuracy, margin = chart_text(app, "#chart-reward-accuracy"), chart_text(app, "#chart-reward-margin")
        assert "reward accuracy" in accuracy and "reward margin" in margin
        assert "1.0" in accuracy and "0.0" in accuracy.replace(" 0.00", " 0.0")  # the whole 0..1 range
        charts.reset(40)  # the next run is an LM run: its charts come back
        charts.add([{"iteration": 1, "training_loss": 3.0, "learning_rate": 1e-4, "tokens_per_second": 1000.0}])
        charts.draw()
        await pilot.pause()
        assert not charts.preference and app.query_one("#chart-lr", SeriesPlot).display
        assert not app.query_one("#chart-reward-accuracy", SeriesPlot).display


async def test_an_orpo_run_charts_the_log_odds_ratio_in_place_of_the_margin():
    app = ChartsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        charts = app.query_one(TrainingCharts)
        charts.add([{"iteration": it, "training_loss": 2.0, "nll": 1.9, "log_odds_ratio": it / 10,
                     "reward_accuracy": 0.6} for it in range(1, 20)])
        charts.draw()
        await pilot.pause()
        assert "log-odds ratio" in chart_text(app, "#chart-reward-margin")
