"""The Chat screen's conversation actions: clear, export, import, and the settings panel.

Mixed into ``ChatScreen``; uses its ``session``, ``settings``, ``generating`` and widgets.
"""

from __future__ import annotations

from datetime import datetime

from forgellm_tui.core.errors import ForgeError
from ..dialogs import ConfirmDialog
from ..dialogs.chat_file import ChatFileDialog
from forgellm_tui.format import rel_path
from ..widgets.chat_settings import ChatSettings
from ..widgets.prompt_input import PromptInput


class ChatActions:
    """Clear, export and import the conversation; apply the settings panel."""

    def action_clear(self) -> None:
        """Forget the conversation (asks first when there is one)."""
        if self.generating:
            self.notify("a reply is being generated — esc stops it", severity="warning")
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                self.session.clear()
                self._end_edit()
                await self._redraw()
                self._show_bar()

        if self.session.history:
            self.app.push_screen(ConfirmDialog("New chat?", "Forget this conversation?\n(ctrl+s exports it first)",
                                               yes="Clear", no="Keep", default=False), answered)

    def action_export(self) -> None:
        """Write the chat as Markdown and JSON into ``<workspace>/chats/``."""
        from forgellm_tui.core.chat import export_json, export_markdown, record_of

        if not self.session.history:
            self.notify("nothing to export yet — send a message first", severity="warning")
            return
        record = record_of(self.session)
        stem = self.settings.workspace / "chats" / datetime.now().strftime("chat-%Y%m%d-%H%M%S")
        try:
            md = export_markdown(record, stem.with_suffix(".md"))
            export_json(record, stem.with_suffix(".json"))
        except (ForgeError, OSError) as exc:
            self.notify(str(exc), title="Export failed", severity="error", markup=False)
            return
        self.notify(f"{rel_path(md, self.settings.workspace)} and .json", title="Chat exported", markup=False)

    def action_import_chat(self) -> None:
        """Load a chat saved as JSON (its messages, system prompt and settings)."""
        if self.generating:
            self.notify("a reply is being generated — esc stops it", severity="warning")
            return
        self.app.push_screen(ChatFileDialog(self.settings.workspace / "chats"), self._import)

    async def _import(self, path) -> None:
        from forgellm_tui.core.chat import apply_record, load_json

        if path is None:
            return
        try:
            record = load_json(path)
        except ForgeError as exc:
            self.notify(str(exc), title="Chat not loaded", severity="error", timeout=12, markup=False)
            return
        apply_record(self.session, record)
        self.query_one(ChatSettings).set_values(record.sampling, record.system_prompt, self.session.instruct_override)
        self._end_edit()
        await self._redraw()
        self._show_bar()
        self.notify(f"{path.name}: {len(record.messages)} messages", title="Chat loaded", markup=False)
        model = record.model or {}
        if self.cache.current is None and model.get("base_path"):
            self.open_in_chat(model["base_path"], model.get("adapter_path"))

    def on_chat_settings_changed(self, event: ChatSettings.Changed) -> None:
        self.session.sampling = event.sampling
        self.session.system_prompt = event.system_prompt
        self.session.instruct_override = event.instruct
        self._show_bar()

    def action_settings(self) -> None:
        """Show or hide the settings panel."""
        panel = self.query_one(ChatSettings)
        panel.toggle_class("-open")
        if panel.has_class("-open"):
            panel.focus_first()
        else:
            self.query_one(PromptInput).focus()
