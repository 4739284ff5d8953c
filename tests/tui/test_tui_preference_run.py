"""Pilot test of the Training screen on a real tiny DPO run of the demo model at 80x24: reward accuracy and
reward margin (training and validation) are charted, with the numbers the run wrote to metrics.jsonl."""

from __future__ import annotations

import json

import pytest

from forgellm_tui.tui.widgets.training_charts import SeriesPlot
from train_helpers import metrics_lines, slice_data
from training_tui_helpers import open_training
from tui_helpers import SIZE, make_app, screen_text, settle
from wait_helpers import pilot_wait_until

pytestmark = pytest.mark.usefixtures("mlx_exit")  # training runs in a thread worker

DPO = """# a tiny DPO run on some of the demo's preference pairs
model: models/base/forge-tiny
data: {data}
training_type: dpo
beta: 0.1
max_iterations: 6
batch_size: 2
max_seq_length: 96
learning_rate: 1.0e-3
lr_schedule: constant
steps_per_report: 1
steps_per_eval: 3
val_batches: 2
save_every: 3
lora_parameters: {{rank: 4}}
early_stopping: false
seed: 0
"""


def chart_text(app, chart_id: str) -> str:
    plot = app.screen.query_one(chart_id, SeriesPlot)
    return "\n".join(line.text for line in plot.render_lines(plot.region.reset_offset))


async def test_a_dpo_run_charts_reward_accuracy_and_margin(workspace):
    for old in (workspace / "configs").glob("*.yaml"):
        old.unlink()
    data = slice_data(workspace, "demo-preference", "pref-tiny", 48, 16)  # the demo's pairs, fewer of them
    (workspace / data / "manifest.json").write_text(json.dumps({"kind": "preference"}), encoding="utf-8")
    (workspace / "configs" / "dpo-tiny.yaml").write_text(DPO.format(data=data), encoding="utf-8")
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.state == "finished", 180)
        await settle(app, pilot)
        charts = screen.charts
        lines = metrics_lines(screen.view.run_dir)
        assert charts.records == lines
        assert charts.acc == [(r["iteration"], r["reward_accuracy"]) for r in lines if "reward_accuracy" in r]
        assert charts.margin == [(r["iteration"], r["reward_margin"]) for r in lines if "reward_margin" in r]
        assert [it for it, _ in charts.val_acc] == [r["iteration"] for r in lines if "val_reward_accuracy" in r]
        assert {3, 6} <= {it for it, _ in charts.val_acc} and charts.val_margin
        charts.draw()
        await pilot.pause()
        for shown in ("#chart-reward-accuracy", "#chart-reward-margin"):
            plot = screen.query_one(shown, SeriesPlot)
            assert plot.display and plot.region.width >= 20 and plot.region.height >= 5, shown
        assert not screen.query_one("#chart-lr", SeriesPlot).display
        assert "reward accuracy" in chart_text(app, "#chart-reward-accuracy")
        assert "reward margin" in chart_text(app, "#chart-reward-margin")
        assert "reward accuracy" in screen_text(app)
