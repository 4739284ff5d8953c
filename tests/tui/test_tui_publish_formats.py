"""Pilot test at 80×24 of the publish dialog's formats: MLX quantized with its settings and size estimate,
a progress bar while it runs, the published list's bits and perplexity change, and Chat on the result."""

from __future__ import annotations

import pytest

from forgellm_tui.tui.dialogs import PublishDialog
from forgellm_tui.tui.screens import ChatScreen, CheckpointsScreen
from forgellm_tui.tui.widgets.job_progress import JobProgress
from forgellm_tui.tui.widgets.prompt_input import PromptInput

from publish_helpers import RUN, leftovers, run_dir
from tui_helpers import SIZE, make_app, notifications, screen_text, settle
from wait_helpers import pilot_wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]


async def _choose(pilot, option_index: int) -> None:
    """Open the focused Select and pick its option number ``option_index`` (0 = first)."""
    await pilot.press("enter", "home", *["down"] * option_index, "enter")
    await pilot.pause()


async def test_quantize_from_the_dialog_then_chat_with_it(ws):
    config = run_dir(ws) / "config.yaml"  # measure on the demo data's test split
    config.write_text(config.read_text().replace("data/cpt-small", "data/cpt-demo"))
    app, messages = make_app(ws), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CheckpointsScreen)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PublishDialog)
        text = screen_text(app)
        assert "format" in text and "MLX (fused, full precision)" in text and "size: about 17.1 MB" in text
        await pilot.press("tab")  # name → format
        await _choose(pilot, 1)  # MLX quantized
        text = screen_text(app)
        assert "4-bit" in text and "group 64" in text and "size: 17.1 MB → about 2.4 MB" in text
        assert app.screen.query_one("#publish-name").value == f"{RUN}-it12-q4"
        await pilot.press("tab", "tab", "tab")  # → bits, group, mode
        await _choose(pilot, 1)  # mxfp4: its one pair, 4 bits in groups of 32
        assert "group 32" in screen_text(app) and "4-bit mxfp4, groups of 32" in screen_text(app)
        await _choose(pilot, 0)  # back to affine
        await pilot.press("shift+tab")  # → group
        await _choose(pilot, 2)  # 64
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, CheckpointsScreen)
        bar = screen.query_one("#publish-progress", JobProgress)
        await pilot_wait_until(pilot, lambda: bar.running and "%" in screen_text(app), timeout=60)
        await pilot_wait_until(pilot, lambda: not bar.running, timeout=300)
        await settle(app, pilot)
        name = f"{RUN}-it12-q4"
        assert leftovers(ws / "published") == [name]
        done = [n for n in notifications(messages) if n.title == "Published"]
        assert done and "4-bit affine g64" in done[-1].message and "perplexity" in done[-1].message
        await pilot.press("b")
        await settle(app, pilot)
        row = next(line for line in screen_text(app).splitlines() if name[:12] in line)
        assert " 4 " in row and "%" in row  # bits and the perplexity change, beside the name
        await pilot.press("o")  # chat with the quantized model
        await settle(app, pilot)
        chat = app.screen
        assert isinstance(chat, ChatScreen) and chat.cache.current.ref.path.name == name
        chat.query_one("#set-max_tokens").value = "6"
        chat.query_one(PromptInput).focus()
        await pilot.press(*"hi", "enter")
        await pilot_wait_until(pilot, lambda: getattr(chat.session.last_stats, "generated_tokens", 0) > 0,
                               timeout=120, describe="a reply from the quantized model")
        await settle(app, pilot)
