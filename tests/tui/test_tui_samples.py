"""The Training screen's "what it says now" pane at 80×24: a real tiny run with sample prompts, paged
with [ and ]; and a run followed from disk, whose samples.jsonl grows and is rewritten by a resume."""

from __future__ import annotations

import json
import os
import socket

import pytest

from forgellm_tui.core.runs import read_samples
from training_tui_helpers import open_training, tiny_config
from wait_helpers import pilot_wait_until
from tui_helpers import SIZE, make_app, screen_text, settle

pytestmark = pytest.mark.usefixtures("mlx_exit")  # training runs in a thread worker

PROMPTS = ["def read_file(", "The json module"]


def _shown_texts(pane) -> list[str]:
    return [r["text"] for r in pane.records if r["iteration"] == pane.iteration]


async def test_samples_pane_shows_the_newest_and_pages_back_at_80x24(workspace):
    config = tiny_config(workspace)
    config.write_text(config.read_text() + f"sample_prompts: {json.dumps(PROMPTS)}\nsample_max_tokens: 6\n")
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)
        await pilot.press("ctrl+r")
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished", 120)
        await settle(app, pilot)
        assert "s samples" in screen_text(app)              # the run view's key line says how to see them
        await pilot.press("s")
        pane = screen.samples                               # a busy machine may need more than one frame
        await pilot_wait_until(pilot, lambda: pane.display and PROMPTS[0] in screen_text(app), 10,
                               describe=lambda: screen_text(app))
        records, _ = read_samples(screen.view.run_dir)
        assert pane.records == records and [r["iteration"] for r in records] == [0, 0, 3, 3, 6, 6]
        text = screen_text(app)
        assert "what it says now · it 6" in text and "3/3 · [ older" in text
        assert PROMPTS[0] in text and "s log" in text and app.focused is pane
        assert [r["prompt"] for r in pane.records if r["iteration"] == 6] == PROMPTS   # the rest scroll
        await pilot.press("left_square_bracket")
        await pilot_wait_until(pilot, lambda: "samples · it 3" in screen_text(app), 10, describe=lambda: screen_text(app))
        text = screen_text(app)
        assert pane.iteration == 3 and "samples · it 3" in text and "2/3 · [ older · ] newer" in text
        assert _shown_texts(pane) == [r["text"] for r in records if r["iteration"] == 3]
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert pane.iteration == 0 and "these are the earliest samples" in [n.message for n in app._notifications]
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot_wait_until(pilot, lambda: "what it says now · it 6" in screen_text(app), 10,
                               describe=lambda: screen_text(app))
        assert pane.iteration == 6 and "what it says now · it 6" in screen_text(app)
        await pilot.press("s")                              # the log again, in the same place
        await pilot.pause()
        assert not pane.display and screen.run_log.display
        await pilot_wait_until(pilot, lambda: "reached max_iterations" in screen_text(app), 10,
                               describe=lambda: screen_text(app))


async def test_a_followed_run_shows_samples_from_its_folder(workspace):
    run_dir = workspace / "models" / "cpt" / "hand-run"
    run_dir.mkdir(parents=True)
    info = {"name": "hand-run", "status": "running", "max_iterations": 8, "pid": os.getpid(),
            "host": socket.gethostname(), "started_at": "2026-01-01T10:00:00Z"}
    (run_dir / "run.json").write_text(json.dumps(info))
    (run_dir / "metrics.jsonl").write_text(json.dumps({"iteration": 4, "training_loss": 2.0}) + "\n")

    def line(it: int, prompt: str) -> str:
        return json.dumps({"iteration": it, "prompt": prompt, "text": f" says {prompt[:3]}{it}", "time": 1.0}) + "\n"

    samples = run_dir / "samples.jsonl"
    samples.write_text(line(0, "def f(") + line(4, "def f(") + line(8, "def f(")[:15])   # a torn last line
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot)            # an active run is followed at once
        await pilot_wait_until(pilot, lambda: screen.samples.iteration == 4, 10)
        await pilot.press("s")
        await pilot.pause()
        assert "what it says now · it 4" in screen_text(app) and "says def4" in screen_text(app)
        with samples.open("a") as fh:                       # the writer completes its line
            fh.write(line(8, "def f(")[15:])
        await pilot_wait_until(pilot, lambda: screen.samples.iteration == 8, 10)
        assert "says def8" in screen_text(app)
        tmp = run_dir / "samples.new"                      # a resume from checkpoint 4 rewrites the file
        tmp.write_text(line(0, "def f(") + line(4, "def f("))
        os.replace(tmp, samples)
        await pilot_wait_until(pilot, lambda: screen.samples.iteration == 4, 10)
        assert [r["iteration"] for r in screen.samples.records] == [0, 4]
