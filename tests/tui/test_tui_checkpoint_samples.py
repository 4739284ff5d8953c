"""The Checkpoints screen at 80×24 shows what the model said at the sampling point nearest the highlighted
checkpoint, below the ranking's notes (the tables keep their columns); a run without samples shows none."""

from __future__ import annotations

import json

from publish_helpers import write_fake_run
from wait_helpers import pilot_wait_until
from tui_helpers import SIZE, make_app, screen_text, settle


def _samples(run, points: dict[int, str]) -> None:
    lines = [{"iteration": it, "prompt": prompt, "text": f" {word} {prompt[:3]}", "time": 1.0}
             for it, word in points.items() for prompt in ("def read_file(", "The json module")]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


async def test_checkpoint_shows_its_nearest_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    ws = tmp_path / "ws"
    (ws / "configs").mkdir(parents=True)
    curve, train = {0: 3.2, 20: 2.6, 40: 2.31}, {20: 2.55, 40: 2.1}
    run = write_fake_run(ws, "sampled", val=curve, train=train, checkpoints=(20, 40), best=40)
    _samples(run, {0: "noise", 18: "early", 40: "fluent"})
    write_fake_run(ws, "plain", val=curve, train=train, checkpoints=(20, 40), best=40,
                   started="2000-01-01T00:00:00Z")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        screen = app.screen
        await pilot_wait_until(pilot, lambda: screen.detail is not None and screen.detail.run.name == "sampled", 20)
        await settle(app, pilot)
        table = screen.query_one("#ckpt-table")
        table.focus()
        await pilot.pause()
        text = screen_text(app)
        assert "best/ (iteration 40)" in text and "says at iteration 40:" in text
        assert "def read_file( → fluent def" in text and "The json module → fluent The" in text
        keys = [str(key.value) for key in table.rows]
        row = keys.index(str(run / "checkpoints" / "0000020"))
        table.move_cursor(row=row)
        await pilot.pause()
        text = screen_text(app)
        assert "says at iteration 18:" in text and "def read_file( → early def" in text   # nearest to 20
        assert max(len(line) for line in text.splitlines()) <= 80
        screen.query_one("#ckpt-runs").focus()
        await pilot.press("down")                                   # the run without samples
        await pilot_wait_until(pilot, lambda: screen.detail.run.name == "plain", 20)
        await settle(app, pilot)
        assert "says at iteration" not in screen_text(app) and not screen.query_one("#ckpt-samples").display
