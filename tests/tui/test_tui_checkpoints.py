"""Pilot tests of the Checkpoints screen on a real trained demo run: browse, compare, publish, chat, delete."""

from __future__ import annotations

import pytest
from textual.widgets import Markdown, TabbedContent

from forgellm_tui.tui.dialogs import CommandsDialog, ConfirmDialog, PublishDialog
from forgellm_tui.tui.messages import OpenInChat, ResumeRun
from forgellm_tui.tui.screens import ChatScreen, CheckpointsScreen, TrainingScreen

from publish_helpers import RUN, leftovers, run_dir, write_fake_run
from wait_helpers import pilot_wait_until
from tui_helpers import make_app, notifications, screen_text, settle, open_checkpoints

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]  # publishing runs MLX in a thread worker
SIZE = (100, 32)


@pytest.fixture
def ws(ws):
    """The trained workspace plus a hand-written older run to compare with."""
    write_fake_run(ws, "baseline", val={0: 9.0, 10: 8.5, 20: 8.1}, train={10: 8.6, 20: 8.0}, checkpoints=(10, 20),
                   best=20, started="2000-01-01T00:00:00Z", model="models/base/forge-tiny")
    return ws


def _posted(messages: list, cls) -> list:
    """Each message of type ``cls`` once (the hook sees it again at every level it bubbles to)."""
    return list({id(m): m for m in messages if isinstance(m, cls)}.values())


def _tab(screen) -> str:
    return screen.query_one("#ckpt-tabs", TabbedContent).active


async def test_browse_sort_and_filter(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_checkpoints(app, pilot)
        text = screen_text(app)
        assert text.index(RUN) < text.index("baseline")  # newest first
        assert "best/" in text and "0000012" in text and "0000004" in text and "lowest val" in text
        assert "lowest validation loss" in str(screen.query_one("#ckpt-notes").content)  # the reason in full
        assert screen.detail.run.name == RUN and len(screen.detail.val) == 4
        plot = screen.query_one("#run-plot")
        assert plot.lines["validation"] == screen.detail.val and plot.lines["train"] == screen.detail.train
        await pilot.press("down")  # the other run: its own checkpoints
        await settle(app, pilot)
        assert screen.detail.run.name == "baseline" and "0000020" in screen_text(app)
        await pilot.press("s")  # sort by name
        await settle(app, pilot)
        text = screen_text(app)
        assert "sort: name" in text and text.index("baseline") < text.index(RUN)
        await pilot.press("slash", *"basel", "enter")
        await settle(app, pilot)
        text = screen_text(app)
        assert "runs (1/2)" in text and RUN not in text.split("checkpoint")[0]
        await pilot.press("slash", *["backspace"] * 5, *"nothing", "enter")
        await settle(app, pilot)
        assert "no run matches 'nothing'" in screen_text(app)
        await pilot.press("slash", *["backspace"] * 7, "enter")
        screen.query_one("#ckpt-tabs", TabbedContent).active = "tab-config"
        await settle(app, pilot)
        assert "model: models/base/forge-tiny" in screen_text(app)


async def test_compare_two_runs(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_checkpoints(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert _tab(screen) == "tab-ckpts"  # nothing marked: a hint instead
        await pilot.press("space", "down", "space", "c")
        await settle(app, pilot)
        assert _tab(screen) == "tab-compare" and len(screen.marked) == 2
        table = screen.query_one("#compare-table")
        assert table.row_count == 2
        text = screen_text(app)
        assert "2 marked" in text and "best val" in text and "8.1000" in text
        assert set(screen.query_one("#compare-plot").lines) == {RUN, "baseline"}


async def test_publish_from_the_keyboard(ws):
    app = make_app(ws)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_checkpoints(app, pilot)
        await pilot.press("enter", "down", "down")  # into the checkpoints table: best/, 0000012, 0000008
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PublishDialog)
        name = app.screen.query_one("#publish-name").value
        assert name == f"{RUN}-it8"
        await pilot.press("enter")
        await settle(app, pilot, rounds=4)
        assert isinstance(app.screen, CheckpointsScreen)
        assert leftovers(ws / "published") == [name]
        assert any(n.title == "Published" and "iteration 8" in n.message for n in notifications(messages))
        await pilot.press("b")
        await settle(app, pilot)
        assert _tab(screen) == "tab-published" and name in screen_text(app)
        readme = screen.query_one("#published-readme", Markdown)
        assert "iteration 8" in readme.source
        # the same name again, confirmed with ctrl+s like every form dialog: refused in the dialog
        await pilot.press("u", "p")
        await pilot.pause()
        assert "ctrl+s publish" in screen_text(app) and "esc cancel" in screen_text(app)
        await pilot.press(*["backspace"] * 40, *name, "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PublishDialog) and "already exists" in screen_text(app)
        await pilot.press("escape")


async def test_chat_with_checkpoint_and_resume(ws):
    app = make_app(ws)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_checkpoints(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        assert app.current_mode == "chat" and isinstance(app.screen, ChatScreen)
        sent = _posted(messages, OpenInChat)  # posted to the chat screen; unhandled, it bubbles to the app
        assert len(sent) == 1 and sent[-1].adapter_path == str(run_dir(ws) / "best")
        assert sent[-1].model_path == str(ws / "models/base/forge-tiny")
        await app.switch_mode("checkpoints")  # the chat screen may have focused its prompt: keys type there
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert app.current_mode == "training" and isinstance(app.screen, TrainingScreen)
        assert [m.run_dir for m in _posted(messages, ResumeRun)] == [str(run_dir(ws))]
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, CommandsDialog)
        text = screen_text(app)
        assert f"forgellm-tui train --resume models/cpt/{RUN}" in text and "--name demo-run-again" in text


async def test_delete_checkpoint_and_protected_items(ws):
    app = make_app(ws)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_checkpoints(app, pilot)
        await pilot.press("enter", "d")  # best/ is protected: refused before asking
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("best/ is the run's best checkpoint" in n.message for n in notifications(messages))
        await pilot.press("ctrl+end", "d")  # the oldest numbered one
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and "0000004" in screen_text(app)
        await pilot.press("y")
        await settle(app, pilot)
        assert leftovers(run_dir(ws) / "checkpoints") == ["0000008", "0000012"]
        assert "0000004" not in screen_text(app)
        await pilot.press("u", "down", "d", "y")  # the whole other run
        await settle(app, pilot)
        assert leftovers(ws / "models/cpt") == [RUN]


async def test_broken_run_shows_problems_and_publish_error(ws):
    (ws / "models/base/forge-tiny").unlink()
    (run_dir(ws) / "metrics.jsonl").unlink()
    app = make_app(ws)
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_checkpoints(app, pilot)
        text = screen_text(app)
        assert "metrics.jsonl is missing" in text and "no longer present" in text
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, PublishDialog)
        assert any("no longer present" in n.message for n in notifications(messages))
        assert leftovers(ws / "published") == []


async def test_o_on_the_training_screen_selects_the_run_however_long_the_runs_take_to_read(workspace, monkeypatch):
    """The Training screen says which run to show (a message); it does not watch the Checkpoints screen's table
    while that screen reads the runs."""
    import threading

    import forgellm_tui.tui.screens.checkpoints as checkpoints

    older = write_fake_run(workspace, "older", val={0: 9.0, 10: 8.5}, train={10: 8.6}, checkpoints=(10,),
                           best=10, started="2000-01-01T00:00:00Z")
    write_fake_run(workspace, "newer", val={0: 9.0, 10: 8.4}, train={10: 8.5}, checkpoints=(10,), best=10)
    reading, real = threading.Event(), checkpoints.all_runs

    def slow_all_runs(settings):  # a workspace whose runs take a while to read
        reading.wait(60)
        return real(settings)

    monkeypatch.setattr(checkpoints, "all_runs", slow_all_runs)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        training = app.screen
        assert isinstance(training, TrainingScreen)
        training.controller.follow_run(older)
        await settle(app, pilot)
        await pilot.press("o")
        free = threading.Event()
        training.call_later(free.set)  # runs once the Training screen is free to handle messages again
        await pilot_wait_until(pilot, lambda: app.current_mode == "checkpoints" and free.is_set(), 30)
        reading.set()  # only now are the runs read
        await settle(app, pilot)
        assert app.current_mode == "checkpoints"
        assert app.screen.query_one("#ckpt-runs").current_key() == str(older)
        assert app.screen.focused is app.screen.query_one("#ckpt-runs")


async def test_export_key_writes_csv_and_markdown_into_the_run_folder(ws):
    import csv
    import json

    messages: list = []
    app = make_app(ws)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_checkpoints(app, pilot)
        assert screen.detail.run.name == RUN
        assert "m Export" in screen_text(app).splitlines()[-1].replace("\xa0", " ")
        await pilot.press("m")
        export = run_dir(ws) / "export"
        await pilot_wait_until(pilot, lambda: any("exported" in n.message for n in notifications(messages)), 30)
        note = next(n.message for n in notifications(messages) if "exported" in n.message)
        assert note == f"exported metrics.csv, metrics.md to {export}"
        rows = list(csv.DictReader((export / "metrics.csv").open()))
        records = [json.loads(line) for line in (run_dir(ws) / "metrics.jsonl").read_text().splitlines()]
        assert [int(r["iteration"]) for r in rows] == [rec["iteration"] for rec in records]
        assert (export / "metrics.md").read_text().startswith(f"# {RUN}\n")
