"""The app rings its terminal when a run it trains finishes, and shows the notification mode."""

from __future__ import annotations

import pytest

from training_tui_helpers import open_training, start_run, tiny_config
from tui_helpers import make_app, screen_text, settle
from wait_helpers import pilot_wait_until

pytestmark = pytest.mark.usefixtures("mlx_exit")  # training runs in a thread worker


@pytest.mark.parametrize("mode", ["osc", "bell", "off"])
async def test_status_bar_shows_the_notification_mode(workspace, mode):
    app = make_app(workspace, env={"FORGELLM_NOTIFY": mode})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert f"notify {mode}" in screen_text(app).splitlines()[0]


async def test_finished_run_writes_bell_and_osc9_through_the_driver(workspace, monkeypatch):
    for var in ("TMUX", "VTE_VERSION"):  # the escapes follow the terminal the app runs in
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    tiny_config(workspace, iters=4, eval_every=4, save_every=4)
    app = make_app(workspace, env={"FORGELLM_NOTIFY": "osc"})
    async with app.run_test(size=(80, 24)) as pilot:
        written: list[str] = []
        app._driver.write = written.append  # the headless driver drops output: keep what reaches it
        screen = await open_training(app, pilot)
        await start_run(pilot, screen, 4)
        await pilot_wait_until(pilot, lambda: screen.view.state == "finished", 60)
        await settle(app, pilot)
        name = screen.view.run_dir.name
        assert f"\x07\x1b]9;ForgeLLM: run finished: {name}: finished at iteration 4\x07" in written
        assert sum("]9;" in text for text in written) == 1
