"""Chat: talk to any base model, published model, run or checkpoint, with streamed replies.

One ``ModelCache`` and one ``ChatSession`` per screen (``core.generation``). Loading and
generating run in thread workers (``chat_workers.py``); a reply is drawn from a buffer about
15 times a second and redrawn from the session's history when it ends. A run that is still
training can only be chatted with through its saved checkpoints (a separate model instance).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from forgellm_tui.core.errors import ForgeError
from ..dialogs.model_picker import ModelPickerDialog
from ..fields import is_typing
from forgellm_tui.format import human_size
from ..messages import ModelLoaded, ModelLoadProgress, ModelsFound, OpenInChat, ReplyFinished
from ..widgets.chat_log import AssistantMessage, ChatLog
from ..widgets.chat_settings import ChatSettings
from ..widgets.job_progress import JobProgress
from ..widgets.prompt_input import PromptInput
from .arena import ArenaScreen
from .base import ForgeScreen
from .chat_actions import ChatActions
from .chat_workers import ChatWorkers, ReplyBuffer

FLUSH_HZ = 15
EDITING = "editing your last message · enter resends · esc cancels"


class ChatScreen(ChatActions, ChatWorkers, ForgeScreen):
    """Pick a model, then chat; replies stream in with their stats."""

    SCREEN_TITLE = "Chat"
    # edit and export are in the chat's own hint line and in "?": with them the footer is wider than 80
    # columns and "? Keys" and "q Quit" fall off its end
    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop the reply being generated (also while the prompt is read)."),
        Binding("escape", "leave", "Leave field",
                tooltip="Leave the prompt or a setting (then 1–4, q and ? work), or cancel an edit."),
        Binding("ctrl+o", "pick_model", "Model", tooltip="Choose a model, run or checkpoint to chat with."),
        Binding("ctrl+t", "settings", "Settings", tooltip="Show or hide the sampling settings and system prompt."),
        Binding("ctrl+r", "regenerate", "Regen", tooltip="Generate the last reply again."),
        Binding("ctrl+b", "edit_last", "Edit", show=False, tooltip="Edit your last message and send it again."),
        Binding("ctrl+s", "export", "Export", show=False, tooltip="Export the chat as Markdown and JSON into chats/."),
        Binding("ctrl+n", "clear", "New", show=False, tooltip="Clear the conversation and start a new chat."),
        Binding("ctrl+f", "import_chat", "Import", show=False, tooltip="Load a chat saved as JSON."),
        Binding("i", "focus_prompt", "Type", show=False, tooltip="Move to the prompt to type a message."),
        Binding("ctrl+g", "arena", "Arena", tooltip="Open the arena: two models answer one prompt, you vote."),
    ]

    SUB_SCREENS = (ArenaScreen,)
    """Screens opened from this one: their keys are listed in help and the command palette."""

    generating = reactive(False, bindings=True)
    """True while a reply is being generated."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list = []
        """Everything ``core.models.discover`` found (``ModelRef``s)."""
        self.cache = None
        """The screen's ``core.generation.ModelCache``."""
        self.session = None
        """The screen's ``core.generation.ChatSession``."""
        self._buffer: ReplyBuffer | None = None
        self._reply: AssistantMessage | None = None
        self._editing = False
        self._sent = ""
        self._pending_open: tuple | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="chat-bar", classes="toolbar"):
            yield Static("", id="chat-model")
            yield Static("", id="chat-context")
        yield JobProgress("Loading", id="load-progress")
        with Horizontal(id="chat-main"):
            yield ChatLog(id="chat-log")
            yield ChatSettings(id="chat-settings")
        yield PromptInput(id="prompt")

    def on_mount(self) -> None:
        from forgellm_tui.core.chat import ChatSession, ModelCache

        self.cache = ModelCache(settings=self.settings)
        self.session = ChatSession(self.cache)
        self.query_one(ChatSettings).set_values(self.session.sampling, "", None)
        self._flush_timer = self.set_interval(1 / FLUSH_HZ, self._flush, pause=True)
        self._show_bar()
        self._show_empty()
        self.query_one(ChatLog).focus()
        if self._pending_open is not None:
            self.open_in_chat(*self._pending_open)

    def on_screen_resume(self) -> None:
        self._discover_worker()  # runs and checkpoints saved since are offered

    def on_unmount(self) -> None:
        """Free the model on the MLX thread (MLX work left in another thread can crash the process at exit)."""
        if self.session is not None:
            self.session.stop()
        if self.cache is not None and self.cache.current is not None:
            self.cache.unload()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "stop":
            return self.generating
        if action == "leave":  # shown while typing; a streaming reply keeps Esc for stopping it
            return (not self.generating and (self._editing or is_typing(self.focused))) or False
        if action == "regenerate":  # hidden while a reply streams (esc stops it first)
            return not self.generating
        return super().check_action(action, parameters)

    # ------------------------------------------------------------------ model

    def on_models_found(self, event: ModelsFound) -> None:
        self.refs = event.refs
        if isinstance(self.app.screen, ModelPickerDialog):  # opened before the list was ready
            self.app.screen.set_refs(self.refs)
        if self.cache.current is None:
            self._show_empty()

    def action_pick_model(self) -> None:
        """Open the model picker; the choice is loaded in a worker."""
        current = self.cache.current.ref if self.cache.current else None

        def chosen(target) -> None:
            if target is not None:
                self.load(target)

        self.app.push_screen(ModelPickerDialog(self.refs, self.settings.workspace, current), chosen)

    def action_arena(self, then: str = "") -> None:
        """Open the arena with this chat's system prompt and sampling settings (``then``: an arena action)."""
        self.app.push_screen(ArenaScreen(self.refs, self.session.system_prompt, self.session.sampling,
                                         self.session.instruct_override, then=then))

    def load(self, target, adapter=None) -> None:
        """Load a ``ModelRef`` or folder (with ``adapter`` on it); the current reply is stopped."""
        self.session.stop()
        name = getattr(target, "name", None) or str(adapter or target).rstrip("/").rsplit("/", 1)[-1]
        self.query_one("#load-progress", JobProgress).start("Loading", name)
        self._load_worker(target, adapter)

    def open_in_chat(self, model_path, adapter_path=None) -> None:
        """Chat with ``model_path`` (plus an adapter folder): "Chat with this checkpoint" from other screens."""
        if self.session is None:  # not mounted yet: load once it is
            self._pending_open = (model_path, adapter_path)
            return
        self._pending_open = None
        self.load(str(model_path), str(adapter_path) if adapter_path else None)

    def on_open_in_chat(self, event: OpenInChat) -> None:
        event.stop()
        self.open_in_chat(event.model_path, event.adapter_path)

    def on_model_load_progress(self, event: ModelLoadProgress) -> None:
        self.query_one("#load-progress", JobProgress).advance(0, 0, event.message)

    async def on_model_loaded(self, event: ModelLoaded) -> None:
        self.query_one("#load-progress", JobProgress).stop()
        self._show_bar()
        if event.error:
            self.notify(event.error, title="Model not loaded", severity="error", timeout=12, markup=False)
            return
        self.notify(f"{event.ref.name} is ready", title="Model", markup=False)
        if not self.session.history:
            self._show_empty()
        self.query_one(PromptInput).focus()

    # ------------------------------------------------------------------ turns

    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        if self._begin("edit" if self._editing else "send", event.text):
            self._end_edit()
            event.prompt.clear()

    def action_regenerate(self) -> None:
        """Generate the last reply again."""
        self._begin("regenerate")

    def _begin(self, kind: str, text: str = "") -> bool:
        """Start a turn (send, regenerate or edit); False with a notice when it cannot start."""
        if self.generating:
            self.notify("a reply is being generated — esc stops it", severity="warning")
            return False
        try:
            chunks = {"send": lambda: self.session.stream(text), "regenerate": self.session.regenerate,
                      "edit": lambda: self.session.edit_last_user(text)}[kind]()
        except ForgeError as exc:
            self.notify(str(exc), title="Chat", severity="warning", markup=False)
            return False
        history = self.session.history
        last_user = max((i for i, m in enumerate(history) if m.role == "user"), default=len(history))
        log = self.query_one(ChatLog)  # mirrors the history: drop what this turn replaces
        log.drop_last({"send": 0, "regenerate": len(history) - last_user - 1, "edit": len(history) - last_user}[kind])
        if kind != "regenerate":
            log.add_user(text)
        self._sent = text
        self._reply = log.start_reply(self.session.reply_starts_in_think)
        self._reply.set_status("reading the prompt… esc stops")
        self._buffer = ReplyBuffer()
        self.generating = True
        self._flush_timer.resume()
        self._generate_worker(chunks, self._buffer)
        return True

    async def _flush(self) -> None:
        """Draw what the worker streamed since the last flush (runs ~15 times a second)."""
        buffer, reply = self._buffer, self._reply
        if buffer is None or reply is None or not reply.is_mounted:
            return
        if buffer.drain():
            await reply.show(buffer.text)
            reply.set_status(f"generating… {buffer.tokens} tokens · esc stops")
        elif buffer.progress and not buffer.text:
            done, total = buffer.progress
            reply.set_status(f"reading the prompt {done:,}/{total:,} tokens · esc stops")

    async def on_reply_finished(self, event: ReplyFinished) -> None:
        self._flush_timer.pause()
        await self._flush()
        self.generating = False
        history, reply, stats = self.session.history, self._reply, event.stats
        self._buffer = self._reply = None
        if event.error:
            self.notify(event.error, title="Reply failed", severity="error", timeout=12, markup=False)
        if stats is not None and stats.generated_tokens and reply is not None and reply.is_mounted \
                and history and history[-1].role == "assistant":
            await reply.finish(history[-1].content, stats.line())
        else:  # nothing generated: the history is as before the turn; the prompt comes back to retry
            if stats is not None and stats.finish_reason == "stopped" and not event.error:
                self.notify("stopped before the first token", title="Chat", markup=False)
            await self._redraw()
            prompt = self.query_one(PromptInput)
            if self._sent and not prompt.text:
                prompt.set_text(self._sent)
        self._show_bar()

    def action_stop(self) -> None:
        """Stop the reply being generated."""
        self.session.stop()
        if self._reply is not None:
            self._reply.set_status("stopping…")

    def action_leave(self) -> None:
        """Cancel an edit, or leave the prompt so single-key bindings work."""
        if self._editing:
            self._end_edit()
            self.query_one(PromptInput).clear()
        else:
            self.query_one(ChatLog).focus()

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    def action_edit_last(self) -> None:
        """Put the last user message into the prompt; Enter sends it in its place."""
        users = [m for m in self.session.history if m.role == "user"]
        if self.generating or not users:
            self.notify("a reply is being generated — esc stops it" if self.generating else
                        "there is no message to edit — send a message first", severity="warning")
            return
        prompt = self.query_one(PromptInput)
        prompt.set_text(users[-1].content)
        prompt.add_class("-editing")
        prompt.border_title = EDITING
        self._editing = True
        prompt.focus()

    def _end_edit(self) -> None:
        self._editing = False
        prompt = self.query_one(PromptInput)
        prompt.remove_class("-editing")
        prompt.border_title = None

    # ------------------------------------------------------------------ drawing

    async def _redraw(self) -> None:
        await self.query_one(ChatLog).show_history(self.session.history, self.session.reply_starts_in_think,
                                                   empty=self._empty_text())

    def _show_empty(self) -> None:
        log = self.query_one(ChatLog)
        if not log.messages():
            log.show_empty(self._empty_text())

    def _empty_text(self) -> Text:
        current = self.cache.current if self.cache else None
        if current is not None:
            return Text.assemble("Chatting with ", (current.ref.name, "bold"),
                                 ". Type below; enter sends, ctrl+j starts a new line.\n"
                                 "ctrl+t settings · ctrl+o another model · ctrl+f load a saved chat\n"
                                 "ctrl+r regenerates a reply · ctrl+b edits your last message · ctrl+s exports\n"
                                 "ctrl+g opens the arena: two models, one prompt, you vote")
        text = Text.assemble(("No model loaded. ", "bold"), "ctrl+o chooses one")
        usable = [r for r in self.refs if not r.error]
        if usable:
            text.append(f" of the {len(usable)} found:\n")
            for ref in usable[:8]:
                text.append(f"  {ref.name}", style="bold")
                text.append(f"  {ref.kind_label}  {human_size(ref.size_bytes)}\n", style="dim")
        return text

    def _show_bar(self) -> None:
        current = self.cache.current if self.cache else None
        model = self.query_one("#chat-model", Static)
        if current is None:
            model.update(Text("no model · ctrl+o chooses one", style="dim"))
        else:
            ref = current.ref
            fmt = "instruct" if self.session.is_instruct else "base"
            model.update(Text.assemble((ref.name, "bold"), (f"  {ref.kind_label} · {fmt} format", "dim")))
        used, total = self.session.context_used if self.session else 0, current.context_length if current else None
        ctx = f"ctx {used:,}/{total:,} ({100 * used / total:.0f}%)" if total else f"ctx {used:,}"
        self.query_one("#chat-context", Static).update(Text(ctx if current else "", style="dim"))
