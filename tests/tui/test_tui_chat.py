"""Pilot tests of the Chat screen on the real demo model: pick, stream, stop, regenerate, edit, export.

Every test drives the app with keys at 80×24 (no mouse) and reads what a user would see: the
screen text, notifications, files written. The model generates for real (MLX on the CPU).
"""

from __future__ import annotations

import json
import shutil

import pytest

from chat_fixtures import make_adapter, tree_bytes
from forgellm_tui.core.chat.export import load_json
from forgellm_tui.tui.messages import OpenInChat
from forgellm_tui.tui.screens import ChatScreen, DatasetsScreen
from forgellm_tui.tui.widgets.chat_log import AssistantMessage, ChatLog, UserMessage
from forgellm_tui.tui.widgets.prompt_input import PromptInput
from tui_helpers import SIZE, make_app, notifications, screen_text, settle
from wait_helpers import pilot_wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]  # generation runs on the MLX thread


async def open_chat(app, pilot) -> ChatScreen:
    await settle(app, pilot)
    await pilot.press("3")
    await settle(app, pilot)
    assert isinstance(app.screen, ChatScreen)
    return app.screen


async def load_demo(app, pilot, **sampling) -> ChatScreen:
    """Chat screen → ctrl+o → filter "tiny" → enter; then set sampling through the panel."""
    chat = await open_chat(app, pilot)
    await pilot.press("ctrl+o")
    await pilot.pause()
    await pilot.press(*"tiny", "enter")
    await settle(app, pilot)
    assert chat.cache.current is not None and chat.cache.current.ref.name == "forge-tiny"
    assert "forge-tiny" in screen_text(app).splitlines()[1]  # the model bar
    for name, value in {"temperature": 0, "seed": 0, **sampling}.items():
        chat.query_one(f"#set-{name}").value = str(value)
    await pilot.pause()
    return chat


async def send(app, pilot, text: str) -> None:
    assert isinstance(app.focused, PromptInput)
    await pilot.press(*text)
    await pilot.press("enter")
    await settle(app, pilot)


def said(messages: list, text: str) -> bool:
    """A notification containing ``text`` was shown."""
    return any(text in n.message for n in notifications(messages))


def replies(chat) -> list[AssistantMessage]:
    return list(chat.query(AssistantMessage))


async def test_pick_model_send_prompt_shows_reply_and_stats(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        chat = await open_chat(app, pilot)
        assert "forge-tiny" in screen_text(app) and "ctrl+o" in screen_text(app)  # the empty state lists it
        await pilot.press("ctrl+o")
        await pilot.pause()
        text = screen_text(app)
        assert "forge-tiny" in text and "base model" in text and "open a folder path" in text
        await pilot.press(*"no-such-model")
        await pilot.pause()
        assert app.screen.query_one("#picker-list").option_count == 1  # only "open a folder path…"
        for _ in "no-such-model":
            await pilot.press("backspace")
        await pilot.press("enter")
        await settle(app, pilot)
        assert chat.cache.current.ref.name == "forge-tiny"
        assert "instruct" in screen_text(app) and "ctx 0/2,048" in screen_text(app)
        chat.query_one("#set-temperature").value = "0"
        chat.query_one("#set-max_tokens").value = "60"
        await send(app, pilot, "What does os.path.join do?")
        stats = chat.session.last_stats
        assert stats.generated_tokens > 20 and stats.finish_reason in ("stop", "length")
        text = screen_text(app)
        assert "What does os.path.join do?" in text
        assert "tok/s" in text and "TTFT" in text and f"{stats.generated_tokens} tok" in text
        assert f"ctx {chat.session.context_used:,}/2,048" in text
        [reply] = replies(chat)
        assert [m.role for m in chat.session.history] == ["user", "assistant"]
        assert reply.text == chat.session.history[1].content


async def test_reply_streams_in_batches_and_esc_stops_it(small_workspace, monkeypatch):
    drawn: list[str] = []
    show = AssistantMessage.show

    async def spy(self, text):  # records each draw (the real method runs)
        drawn.append(text)
        await show(self, text)

    monkeypatch.setattr(AssistantMessage, "show", spy)
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        chat = await load_demo(app, pilot, max_tokens=100_000)
        await pilot.press(*"Tell me everything about pathlib.")
        await pilot.press("enter")
        # until some of the reply is on screen
        await pilot_wait_until(pilot, lambda: "generating…" in screen_text(app) and len(drawn) >= 2, 30, 0.05)
        assert chat.generating and drawn[0] and len(drawn[0]) < len(drawn[-1])  # streamed, growing
        assert "esc Stop" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        stats = chat.session.last_stats
        assert not chat.generating and stats.finish_reason == "stopped"
        assert 0 < stats.generated_tokens < 1000 and len(drawn) < stats.generated_tokens  # batched, not per token
        assert "stopped" in screen_text(app)  # the log stayed at the bottom
        assert chat.session.history[-1].content == replies(chat)[-1].text  # the partial reply is kept
        assert isinstance(app.focused, PromptInput)  # esc stopped, it did not leave the prompt


async def test_esc_stops_while_the_prompt_is_read(small_workspace):
    app, messages = make_app(small_workspace), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        chat = await load_demo(app, pilot, max_tokens=8)
        await send(app, pilot, "hello")
        before = list(chat.session.history)
        chat.session.prefill_step_size = 1  # many small prompt chunks, so there is time to press esc
        prompt = chat.query_one(PromptInput)
        prompt.load_text(" ".join(f"item{i} os.path.join(a, b) returns the joined path." for i in range(60)))
        await pilot.press("end", "enter")
        await pilot_wait_until(pilot, lambda: "tokens · esc stops" in screen_text(app), 30, 0.02)  # the progress
        assert "reading the prompt" in screen_text(app), screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert chat.session.last_stats.generated_tokens == 0
        assert chat.session.history == before  # the turn left no trace
        assert len(replies(chat)) == 1 and len(chat.query(UserMessage)) == 1
        assert said(messages, "before the first token")
        assert chat.query_one(PromptInput).text.startswith("item0 os.path")  # back in the prompt, to retry


async def test_regenerate_edit_and_clear(small_workspace):
    app, messages = make_app(small_workspace), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        chat = await load_demo(app, pilot, max_tokens=12)
        await send(app, pilot, "First question")
        await send(app, pilot, "Second question")
        first = chat.session.history[-1].content
        chat.query_one("#set-temperature").value = "1.5"
        chat.query_one("#set-seed").value = "7"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        history = chat.session.history
        assert [m.content for m in history if m.role == "user"] == ["First question", "Second question"]
        assert history[-1].content != first and replies(chat)[-1].text == history[-1].content
        assert len(replies(chat)) == 2 and history[-1].stats.cached_tokens > 0  # earlier turns from the cache
        await pilot.press("ctrl+b")
        await pilot.pause()
        prompt = chat.query_one(PromptInput)
        assert prompt.text == "Second question" and "editing your last message" in screen_text(app)
        await pilot.press("end", *" again", "enter")
        await settle(app, pilot)
        users = [m.text for m in chat.query(UserMessage)]
        assert users == ["First question", "Second question again"]
        assert [m.content for m in chat.session.history if m.role == "user"] == users
        assert "editing" not in screen_text(app) and prompt.text == ""
        await pilot.press("escape")  # leaves the prompt: single keys work now
        assert isinstance(app.focused, ChatLog)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert chat.session.history == [] and not replies(chat) and "Chatting with forge-tiny" in screen_text(app)


async def test_export_writes_markdown_and_json_and_import_reads_it(small_workspace):
    app = make_app(small_workspace)
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        chat = await load_demo(app, pilot, max_tokens=8)
        chat.query_one("#system-prompt").load_text("You answer in one line.")
        await pilot.pause()
        await send(app, pilot, "Name a module")
        await pilot.press("ctrl+s")
        await pilot.pause()
        files = sorted((small_workspace / "chats").iterdir())
        assert [f.suffix for f in files] == [".json", ".md"]
        assert any("chats/" in n.message for n in notifications(messages) if n.title == "Chat exported")
        saved = load_json(files[0])
        assert saved.system_prompt == "You answer in one line." and saved.sampling.temperature == 0
        assert [m.content for m in saved.messages] == [m.content for m in chat.session.history]
        assert "## User" in files[1].read_text() and "Name a module" in files[1].read_text()
        await pilot.press("ctrl+n", "y")
        await settle(app, pilot)
        chat.query_one("#system-prompt").load_text("")
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert files[0].name in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert [m.content for m in chat.session.history] == [m.content for m in saved.messages]
        assert chat.session.system_prompt == "You answer in one line."
        assert "Name a module" in screen_text(app) and "tok/s" in screen_text(app)  # stats came back too
        # a JSON that is not a chat: a clear message, the conversation stays
        bad = small_workspace / "chats" / "other.json"
        bad.write_text(json.dumps({"format": "something-else"}))
        await pilot.press("ctrl+f")
        await pilot.pause()
        await pilot.press("enter")  # newest first: other.json
        await settle(app, pilot)
        assert said(messages, "not a chat file")
        assert len(chat.session.history) == 2


async def test_settings_errors_are_shown_inline_and_ignored(small_workspace):
    app, messages = make_app(small_workspace), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        chat = await load_demo(app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.focused.id == "set-temperature"
        await pilot.press(*"-1")
        await pilot.pause()
        assert "temperature" in screen_text(app) and "use 0 (greedy) or more" in screen_text(app)
        assert app.focused.has_class("-invalid") and chat.session.sampling.temperature == 0
        await pilot.press("backspace", "backspace", *"abc")  # letters are refused as they are typed
        await pilot.pause()
        assert app.focused.value == "" and "is not a number" in str(chat.query_one("#settings-error").content)
        await pilot.press("backspace", "backspace", "backspace", *"0.5")
        await pilot.pause()
        assert chat.session.sampling.temperature == 0.5 and "✗" not in screen_text(app)
        await pilot.press("ctrl+t")
        assert isinstance(app.focused, PromptInput)
        await pilot.press("enter")  # empty prompt
        await pilot.pause()
        assert said(messages, "the prompt is empty")
        assert not replies(chat)
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert chat.query_one(PromptInput).text == "a\nb\nc" and not replies(chat)  # new lines, nothing sent


@pytest.fixture
def checkpoint_ws(small_workspace, demo_model):
    """A run with one saved checkpoint, and a run that has not saved any yet (still training)."""
    run = small_workspace / "models" / "cpt" / "run1"
    ckpt = make_adapter(demo_model, run / "checkpoints" / "0000010", seed=2)
    (ckpt / "state.json").write_text(json.dumps({"iteration": 10, "val_loss": 7.5}))
    (run / "config.yaml").write_text("model: models/base/forge-tiny\nfine_tune_type: lora\n")
    shutil.copy(ckpt / "adapter_config.json", run / "adapter_config.json")
    training = small_workspace / "models" / "cpt" / "run2"
    (training / "checkpoints").mkdir(parents=True)
    (training / "config.yaml").write_text("model: models/base/forge-tiny\n")
    (training / "run.json").write_text("{}")
    return small_workspace, ckpt


async def test_open_in_chat_loads_a_checkpoint_with_its_base_model(checkpoint_ws):
    ws, ckpt = checkpoint_ws
    base = ws / "models" / "base" / "forge-tiny"
    before = tree_bytes(ckpt.parent.parent)
    app, messages = make_app(ws), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, DatasetsScreen)
        app.post_message(OpenInChat(str(base), str(ckpt)))  # as "chat with this checkpoint" does
        await settle(app, pilot)
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        current = chat.cache.current.ref
        assert current.adapter_path == ckpt and current.base_path.name == "forge-tiny"
        assert "cpt/run1 @ 10" in screen_text(app) or "run1 @ 10" in screen_text(app)
        chat.query_one("#set-max_tokens").value = "6"
        await send(app, pilot, "hi")
        assert chat.session.last_stats.generated_tokens > 0
        # the run that is still training has no saved adapters: refused, the checkpoint stays loaded
        await app.switch_mode("datasets")
        await app.switch_mode("chat")
        app.screen.post_message(OpenInChat(str(base), str(ws / "models" / "cpt" / "run2")))
        await settle(app, pilot)
        assert said(messages, "no saved adapters yet")
        assert chat.cache.current.ref.adapter_path == ckpt
        # the picker lists the checkpoint with its type, never the run being trained
        await pilot.press("ctrl+o")
        await pilot.pause()
        text = screen_text(app)
        assert "checkpoint" in text and "run2" not in text
        await pilot.press("escape")
    assert tree_bytes(ckpt.parent.parent) == before  # loading never changes the run folder


async def test_a_folder_that_is_not_a_model_keeps_the_loaded_one(small_workspace):
    app, messages = make_app(small_workspace), []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        chat = await load_demo(app, pilot)
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#picker-filter").value = str(small_workspace / "dataset" / "core")  # a folder path
        await pilot.press("enter")
        await settle(app, pilot)
        assert any(n.title == "Model not loaded" for n in notifications(messages))
        assert chat.cache.current.ref.name == "forge-tiny" and "forge-tiny" in screen_text(app)


async def test_think_blocks_are_collapsed(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        chat = await open_chat(app, pilot)
        reply = chat.query_one(ChatLog).start_reply()
        await pilot.pause()
        await reply.show("<think>The user wants a greeting")
        await pilot.pause()
        assert "thinking…" in screen_text(app) and "wants a greeting" not in screen_text(app)
        await reply.finish("<think>The user wants a greeting</think>Hello there!", "3 tok")
        await pilot.pause()
        text = screen_text(app)
        assert "thought (5 words)" in text and "Hello there!" in text and "wants a greeting" not in text
        reply.query_one("Collapsible").collapsed = False
        await pilot.pause()
        assert "wants a greeting" in screen_text(app)


async def test_quit_while_generating_asks_then_stops_and_frees_the_model(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        chat = await load_demo(app, pilot, max_tokens=100_000)
        await pilot.press(*"Go on", "enter")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert "Generating a reply" in screen_text(app)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0 and chat.cache.current is None  # unloaded on the MLX thread
    assert chat.session.last_stats is None or chat.session.last_stats.finish_reason == "stopped"
