"""Pilot tests of the app shell: start, screens by key and palette, help, status bar, quit."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from forgellm_tui.core.runtime import backend as runtime
from forgellm_tui.tui.dialogs import ConfirmDialog
from forgellm_tui.tui.screens import ChatScreen, CheckpointsScreen, DatasetsScreen, TrainingScreen
from forgellm_tui.tui.screens.help import HelpScreen
from forgellm_tui.tui.widgets import DatasetTree
from tui_helpers import SIZE, make_app, screen_text, settle


pytestmark = pytest.mark.usefixtures("mlx_exit")  # the device probe imports MLX in a thread


def test_app_import_is_light():
    """The first frame needs no MLX, mlx_lm or transformers: importing the app must not load them."""
    code = ("import sys, forgellm_tui.tui.app, forgellm_tui.tui.screens; "
            "print([m for m in ('mlx', 'mlx.core', 'mlx_lm', 'transformers', 'tokenizers', 'torch') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_starts_on_datasets_with_tree_tokens_and_device(workspace):
    app = make_app(workspace, detect_device=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, DatasetsScreen)
        tree = app.screen.query_one(DatasetTree)
        categories = [node.data.name for node in tree.root.children]
        assert {"core", "semantic", "episodic", "general"} <= set(categories)
        scan = app.screen.scan
        assert scan is not None and all(f.tokens > 0 for f in scan.files)
        assert "forge-tiny" in scan.tokenizer_used
        text = screen_text(app)
        assert "tokens" in text and "forge-tiny" in text
        core = next(node for node in tree.root.children if node.data.name == "core")
        assert f"({core.data.files})" in text  # the category row with its file count
        assert app.device_label.startswith(("CPU", "GPU"))
        assert app.device_label in screen_text(app)
        if runtime.active_blas() == "OpenBLAS":  # the kernel set in use is shown too
            assert f"CPU · OpenBLAS ({runtime.openblas_core()})" in screen_text(app)


async def test_number_keys_switch_screens(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key, screen_cls, title in (("2", TrainingScreen, "Training"), ("3", ChatScreen, "Chat"),
                                       ("4", CheckpointsScreen, "Checkpoints"), ("1", DatasetsScreen, "Datasets")):
            await pilot.press(key)
            await settle(app, pilot)
            assert isinstance(app.screen, screen_cls)
            assert title in screen_text(app).splitlines()[0]
        await pilot.press("3")
        await settle(app, pilot)
        assert "forge-tiny" in screen_text(app)  # the demo model is listed with its size
        await pilot.press("4")
        await settle(app, pilot)
        assert "no runs yet" in screen_text(app)


async def test_help_lists_every_key(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=(100, 130)) as pilot:  # tall enough for every key without scrolling
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for screen_cls in (DatasetsScreen, TrainingScreen, ChatScreen, CheckpointsScreen):
            assert screen_cls.SCREEN_TITLE in text
            for binding in screen_cls.BINDINGS:
                assert binding.tooltip.rstrip(".") in text
        assert "Quit" in text and "Command palette" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DatasetsScreen)


async def test_command_palette_switches_screens_and_runs_actions(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"checkp")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, CheckpointsScreen)
        # a screen's action from another screen: switches there and runs it
        await pilot.press("ctrl+p")
        await pilot.press(*"prepare")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "PrepareDialog"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DatasetsScreen)


async def test_quit_asks_while_work_is_running(small_workspace):
    app = make_app(small_workspace)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # stand-in for a long prepare/training job (fault injection: a worker that waits)
        app.run_worker(lambda: release.wait(10), thread=True, group="prepare", description="Preparing data")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Preparing data" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DatasetsScreen) and app.is_running
        release.set()
        await app.workers.wait_for_complete()
        await pilot.press("q")  # nothing runs now: quits at once
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_confirmed_stops_the_work(small_workspace):
    app = make_app(small_workspace)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        worker = app.run_worker(lambda: release.wait(10), thread=True, group="training", description="Training")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert worker.is_cancelled
        release.set()
    assert app.return_code == 0
