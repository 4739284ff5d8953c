"""Pilot tests at 80×24 of the Arena (ctrl+g on Chat): two real models answer one prompt, the vote is
appended to arena.jsonl and the pair's tally is shown. The demo model and a real LoRA checkpoint generate."""

from __future__ import annotations

import json

import pytest

from chat_fixtures import make_adapter
from forgellm_tui.tui.screens import ChatScreen
from forgellm_tui.tui.screens.arena import ArenaScreen
from forgellm_tui.tui.widgets.chat_log import AssistantMessage
from forgellm_tui.tui.widgets.prompt_input import PromptInput
from tui_helpers import SIZE, make_app, notifications, screen_text, settle
from wait_helpers import pilot_wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]  # generation runs on the MLX thread


@pytest.fixture
def arena_ws(small_workspace, demo_model):
    """The small workspace plus a run with one real LoRA checkpoint."""
    run = small_workspace / "models" / "cpt" / "run1"
    ckpt = make_adapter(demo_model, run / "checkpoints" / "0000010", seed=2)
    (ckpt / "state.json").write_text(json.dumps({"iteration": 10, "val_loss": 7.5}))
    (run / "config.yaml").write_text("model: models/base/forge-tiny\nfine_tune_type: lora\n")
    return small_workspace


def said(messages: list, text: str) -> bool:
    return any(text in n.message for n in notifications(messages))


async def open_arena(app, pilot, **sampling) -> ArenaScreen:
    """Chat (3) with the given settings, then ctrl+g."""
    await settle(app, pilot)
    await pilot.press("3")
    await settle(app, pilot)
    chat = app.screen
    assert isinstance(chat, ChatScreen)
    chat.query_one("#system-prompt").load_text("Answer briefly.")
    for name, value in sampling.items():
        chat.query_one(f"#set-{name}").value = str(value)
    await pilot.pause()
    await pilot.press("ctrl+g")
    await settle(app, pilot)
    assert isinstance(app.screen, ArenaScreen)
    return app.screen


async def pick(app, pilot, key: str, query: str) -> None:
    await pilot.press(key)
    await pilot.pause()
    side = "left" if key == "ctrl+l" else "right"
    assert f"Arena, {side} side: choose a model" in screen_text(app)  # the chat's model picker, titled
    await pilot.press(*query, "enter")
    await settle(app, pilot)


async def test_two_models_reply_to_one_prompt_and_the_vote_is_saved_and_tallied(arena_ws):
    app, messages = make_app(arena_ws), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        arena = await open_arena(app, pilot, temperature=0, seed=0, max_tokens=8)
        text = screen_text(app)
        assert "^l Left" in text and "^r Right" in text and "ctrl+l chooses the left model" in text
        await pick(app, pilot, "ctrl+l", "tiny")
        await pick(app, pilot, "ctrl+r", "0000010")
        assert "left forge-tiny  vs  right cpt/run1 @ 10" in screen_text(app)
        assert "no votes for this pair yet" in screen_text(app)
        assert isinstance(app.focused, PromptInput)
        await pilot.press(*"Name a module", "enter")
        await settle(app, pilot)
        left, right = (arena.query_one(f"#arena-{side}").query_one(AssistantMessage) for side in ("left", "right"))
        assert left.text.strip() and right.text.strip() and left.text != right.text  # the adapter changes the reply
        text = screen_text(app)
        assert text.count("tok/s") == 2 and "l left is better" in text and "t Tie" in text
        assert "reading the prompt" not in text and "esc stops" not in text  # no progress line left behind
        assert left.region.y < right.region.y and left.region.x == right.region.x  # stacked at 80 columns
        assert {m.ref.name for m in arena.cache.models} == {"forge-tiny", "cpt/run1 @ 10"}  # both stay loaded
        await pilot.press("l")
        await pilot.pause()
        records = [json.loads(line) for line in (arena_ws / "arena.jsonl").read_text().splitlines()]
        assert len(records) == 1
        record = records[0]
        assert record["vote"] == "left" and record["prompt"] == "Name a module"
        assert record["left"]["name"] == "forge-tiny" and record["right"]["name"] == "cpt/run1 @ 10"
        assert record["replies"]["left"].strip() == left.text.strip()
        assert record["system_prompt"] == "Answer briefly." and record["settings"]["max_tokens"] == 8
        assert "tally cpt/run1 @ 10 0 · forge-tiny 1 · tie 0" in screen_text(app)
        assert said(messages, "left: forge-tiny · saved to arena.jsonl")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert sorted(p.suffix for p in (arena_ws / "chats").glob("arena-*")) == [".json", ".md"]
        assert "Name a module" in next((arena_ws / "chats").glob("arena-*.md")).read_text()
        await pilot.press("escape", "escape")  # leave the prompt, then close the arena
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen)


async def test_bad_input_is_one_line_and_the_same_model_twice_is_allowed_but_said(arena_ws):
    (arena_ws / "arena.jsonl").write_text("not json\n")
    app, messages = make_app(arena_ws), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        arena = await open_arena(app, pilot, temperature=0, max_tokens=4)
        assert said(messages, "line 1 is not an arena vote")  # the tally is left out, the arena works
        await pilot.press(*"Hello", "enter")
        await pilot.pause()
        assert said(messages, "choose the left and right model first (ctrl+l)")
        await pick(app, pilot, "ctrl+l", "tiny")
        await pick(app, pilot, "ctrl+r", "tiny")
        assert said(messages, "both sides are forge-tiny: the replies differ only by sampling")
        assert "(same model)" in screen_text(app) and len(arena.cache.models) == 1
        await pilot.press("l")  # no round yet: typed into the prompt, nothing voted
        assert not (arena_ws / "arena.jsonl").read_text().count("\n") > 1
        await pilot.press("backspace", "enter")
        await settle(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        lines = (arena_ws / "arena.jsonl").read_text().splitlines()
        assert len(lines) == 2 and json.loads(lines[1])["vote"] == "tie"
        assert "tally forge-tiny (left) 0 · forge-tiny (right) 0 · tie 1" in screen_text(app)


async def test_arena_keys_are_in_help_and_the_palette_opens_the_arena(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=(100, 120)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "3 · Chat · Arena" in text and "Open the arena: two models answer one prompt" in text
        for binding in ArenaScreen.BINDINGS:
            assert binding.tooltip.rstrip(".") in text
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"choose the model on the left")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelPickerDialog"  # the arena opened, then its ctrl+l ran
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ArenaScreen)


async def test_esc_stops_the_round_and_the_other_side_does_not_start(arena_ws):
    app, messages = make_app(arena_ws), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        arena = await open_arena(app, pilot, temperature=0, max_tokens=1500)
        await pick(app, pilot, "ctrl+l", "tiny")
        await pick(app, pilot, "ctrl+r", "0000010")
        await pilot.press(*"Go on and on", "enter")
        await pilot_wait_until(pilot, lambda: "tokens · esc stops" in screen_text(app), 60, 0.02)
        assert "esc Stop" in screen_text(app).splitlines()[-1]
        await pilot.press("escape")
        await settle(app, pilot)
        text = screen_text(app)
        assert "stopped before it started" in text and "l left is better" not in text
        assert said(messages, "a side did not reply — send the prompt again to vote")
        await pilot.press("l")  # no vote without both replies
        await pilot.pause()
        assert not (arena_ws / "arena.jsonl").exists() and not arena.voting
