"""The Training screen's estimate pane shows the expected peak memory next to the machine's, at 80x24."""

from __future__ import annotations

from textual.widgets import Static

from training_tui_helpers import open_training, tiny_config
from tui_helpers import make_app, screen_text
from wait_helpers import pilot_wait_until


async def _estimate(pilot, screen) -> list[str]:
    await pilot_wait_until(pilot, lambda: any(line.startswith("memory ~") for line in screen.setup.estimate_lines), 60)
    return screen.setup.estimate_lines


async def test_estimate_pane_shows_the_memory_it_needs(workspace, monkeypatch):
    monkeypatch.setenv("FORGELLM_MEMORY", "16G")
    tiny_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_training(app, pilot)
        lines = await _estimate(pilot, screen)
        memory = next(line for line in lines if line.startswith("memory ~"))
        assert memory.endswith("peak · 16.0 GiB free") and "MiB" in memory
        parts = next(line for line in lines if line.startswith("weights "))
        assert " · train " in parts and " · act " in parts and parts.endswith(" MiB")
        assert not any("will not fit" in line for line in lines)
        pane = screen.query_one("#estimate", Static)
        assert max(len(memory), len(parts)) <= pane.content_region.width   # neither wraps at 80 columns
        screen.query_one("#estimate", Static).scroll_visible(animate=False)
        await pilot.pause()
        assert memory in screen_text(app)


async def test_estimate_pane_warns_with_the_first_fix(workspace, monkeypatch):
    monkeypatch.setenv("FORGELLM_MEMORY", "55M")
    tiny_config(workspace)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_training(app, pilot)
        lines = await _estimate(pilot, screen)
        assert lines[-1] == ("⚠ will not fit; first fix: batch_size 2 → 1 with grad_accumulation_steps 2 "
                             "(same 2 rows per optimizer update)")
        assert any(line.startswith("memory ~") and line.endswith("peak · 55 MiB free") for line in lines)
