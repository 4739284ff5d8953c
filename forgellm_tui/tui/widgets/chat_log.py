"""The conversation: user messages, replies (Markdown, a collapsed ``<think>`` part, a stats line).

The screen streams a reply with :meth:`ChatLog.start_reply`, then :meth:`AssistantMessage.show`
about 15 times a second with the text so far (only the new part of the answer is appended), and
:meth:`AssistantMessage.finish` with the reply as stored in the history and its stats.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, Markdown, Static

from forgellm_tui.core.chat import split_think


class UserMessage(Static):
    """One message the user sent (plain text, no markup)."""

    DEFAULT_CSS = """
    UserMessage { height: auto; border-left: thick $accent; padding: 0 1; margin: 0 0 1 0;
                  background: $boost; }
    """

    def __init__(self, text: str, **kwargs) -> None:
        super().__init__(Text(text), **kwargs)
        self.text = text


class AssistantMessage(Vertical):
    """A reply: thinking (collapsed), the answer as Markdown, and a dim stats line."""

    DEFAULT_CSS = """
    AssistantMessage { height: auto; border-left: thick $primary; padding: 0 0 0 1; margin: 0 0 1 0; }
    AssistantMessage > Collapsible { display: none; padding: 0; margin: 0; border: none; }
    AssistantMessage.-thinking > Collapsible { display: block; }
    AssistantMessage > Collapsible > Contents { padding: 0 0 0 2; }
    AssistantMessage .think-text { color: $text-muted; }
    AssistantMessage > Markdown { margin: 0; padding: 0; }
    AssistantMessage > Markdown > MarkdownParagraph:last-child { margin: 0; }
    AssistantMessage > .reply-stats { color: $text-muted; text-style: italic; height: auto; }
    """

    def __init__(self, open_in_think: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.open_in_think = open_in_think
        """The prompt ended inside a ``<think>`` block, so the reply starts in one."""
        self.text = ""
        """The reply text shown so far."""
        self._answer = ""
        self._think = Static("", classes="think-text", markup=False)
        self._markdown = Markdown("", classes="reply-answer")
        self._status = Static("", classes="reply-stats", markup=False)

    def compose(self) -> ComposeResult:
        with Collapsible(title="thinking", collapsed=True):
            yield self._think
        yield self._markdown
        yield self._status

    async def show(self, text: str) -> None:
        """Show ``text`` (the reply so far); appends to the Markdown when only the end changed."""
        self.text = text
        parts = split_think(text, self.open_in_think)
        self.set_class(bool(parts.think) or parts.thinking, "-thinking")
        if parts.think or parts.thinking:
            collapsible = self.query_one(Collapsible)
            collapsible.title = "thinking…" if parts.thinking else f"thought ({len(parts.think.split())} words)"
            self._think.update(parts.think)
        markdown = self._markdown
        if parts.answer.startswith(self._answer):
            delta = parts.answer[len(self._answer):]
            if delta:
                await markdown.append(delta)
        else:
            await markdown.update(parts.answer)
        self._answer = parts.answer

    def set_status(self, line: str) -> None:
        """The line under the reply: progress while it runs, then the stats."""
        self._status.update(line)

    async def finish(self, text: str | None, stats_line: str | None) -> None:
        """Show the final reply (as stored in the history) and its stats line."""
        if text is not None and text != self.text:
            self._answer = "\0"  # force a full update: the stored text may differ at the start
            await self.show(text)
        self.set_status(stats_line or "")


class ChatLog(VerticalScroll):
    """The scrolling conversation; stays at the bottom while a reply streams (``anchor``)."""

    DEFAULT_CSS = """
    ChatLog { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    ChatLog > .chat-empty { color: $text-muted; height: auto; }
    """

    can_focus = True

    def on_mount(self) -> None:
        self.anchor()

    def show_empty(self, text: Text | str) -> None:
        """Replace the conversation with a hint (no model yet, or an empty chat)."""
        self.remove_children()
        self.mount(Static(text, classes="chat-empty"))

    def _drop_empty(self) -> None:
        for widget in self.query(".chat-empty"):
            widget.remove()

    def add_user(self, text: str) -> UserMessage:
        self._drop_empty()
        message = UserMessage(text)
        self.mount(message)
        return message

    def start_reply(self, open_in_think: bool = False) -> AssistantMessage:
        self._drop_empty()
        message = AssistantMessage(open_in_think)
        self.mount(message)
        self.anchor()
        return message

    def messages(self) -> list:
        """The User/Assistant message widgets, in order."""
        return [w for w in self.children if isinstance(w, (UserMessage, AssistantMessage))]

    def drop_last(self, count: int) -> None:
        """Remove the last ``count`` messages (a reply being regenerated, an edited turn)."""
        for widget in self.messages()[-count:] if count else []:
            widget.remove()

    async def show_history(self, history: list, open_in_think: bool = False, empty: Text | str = "") -> None:
        """Draw the whole conversation from ``ChatMessage``s (after import, clear, or an odd turn end)."""
        await self.remove_children()
        if not history and empty:
            await self.mount(Static(empty, classes="chat-empty"))
        for item in history:
            if item.role == "user":
                await self.mount(UserMessage(item.content))
            else:
                reply = AssistantMessage(open_in_think)
                await self.mount(reply)
                await reply.finish(item.content, item.stats.line() if item.stats else None)
        self.scroll_end(animate=False)
        self.anchor()
