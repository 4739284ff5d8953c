"""The chat's settings panel: sampling, prompt format (auto/instruct/base) and the system prompt.

Every edit is checked at once; a bad value turns its field red, the reason shows under the form
and the last valid settings stay in use. Valid edits post :class:`ChatSettings.Changed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select, Static, TextArea

from forgellm_tui.core.chat import SamplingSettings
from forgellm_tui.core.errors import ConfigError
from ..fields import INTEGER_CHARS, NUMBER_CHARS

FIELDS = (  # (SamplingSettings field, label, type); "seed" may be empty (random)
    ("temperature", "temperature", float),
    ("top_p", "top-p", float),
    ("min_p", "min-p", float),
    ("top_k", "top-k", int),
    ("repetition_penalty", "rep. penalty", float),
    ("max_tokens", "max tokens", int),
    ("seed", "seed", int),
)
FORMATS = [("auto", "auto"), ("instruct (chat template)", "instruct"), ("base (plain text)", "base")]


def parse_field(name: str, kind: type, raw: str) -> Any:
    """The value typed in a field; ConfigError naming the field when it is not a number."""
    raw = raw.strip()
    if name == "seed" and not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"invalid {name}: {raw!r} is not {what}",
                          hint="leave it empty for a random seed" if name == "seed" else None) from None


class ChatSettings(Vertical):
    """Sampling fields, prompt format and system prompt; hidden until the screen opens it."""

    DEFAULT_CSS = """
    ChatSettings { width: 34; height: 1fr; display: none; border: round $primary 40%; padding: 0 1; }
    ChatSettings.-open { display: block; }
    ChatSettings:focus-within { border: round $accent; }
    ChatSettings > Grid { grid-size: 2; grid-columns: 13 1fr; grid-rows: 1; height: auto; }
    ChatSettings Grid > Label { color: $text-muted; }
    ChatSettings Input { background: $boost; }
    ChatSettings Input:focus { background: $primary 30%; }
    ChatSettings Input.-invalid { background: $error 40%; }
    ChatSettings #settings-format { width: 1fr; }
    ChatSettings #settings-error { color: $error; height: auto; }
    ChatSettings .settings-title { color: $text-muted; text-style: bold; }
    ChatSettings #system-prompt { height: 1fr; min-height: 3; border: none; background: $boost; }
    """

    @dataclass
    class Changed(Message):
        """Valid settings: ``instruct`` is None for auto."""

        sampling: SamplingSettings
        system_prompt: str
        instruct: bool | None

    def compose(self) -> ComposeResult:
        yield Label("sampling", classes="settings-title")
        with Grid():
            for name, label, kind in FIELDS:
                yield Label(label)
                yield Input(id=f"set-{name}", compact=True, select_on_focus=True,
                            restrict=INTEGER_CHARS if kind is int else NUMBER_CHARS)
            yield Label("format")
            yield Select(FORMATS, value="auto", allow_blank=False, compact=True, id="settings-format")
        yield Static("", id="settings-error", markup=False)
        yield Label("system prompt", classes="settings-title")
        yield TextArea("", id="system-prompt", soft_wrap=True, tab_behavior="focus", compact=True)

    def set_values(self, sampling: SamplingSettings, system_prompt: str, instruct: bool | None) -> None:
        """Show these settings (e.g. from an imported chat) without posting Changed."""
        with self.prevent(Input.Changed, TextArea.Changed, Select.Changed):
            for name, _label, _kind in FIELDS:
                value = getattr(sampling, name)
                self.query_one(f"#set-{name}", Input).value = "" if value is None else str(value)
                self.query_one(f"#set-{name}", Input).remove_class("-invalid")
            self.query_one("#system-prompt", TextArea).load_text(system_prompt)
            self.query_one("#settings-format", Select).value = (
                "auto" if instruct is None else "instruct" if instruct else "base")
        self.query_one("#settings-error", Static).update("")

    def read(self) -> tuple[SamplingSettings, str, bool | None]:
        """The settings in the fields; ConfigError (naming the field) when one is invalid."""
        for field in self.query(Input):
            field.remove_class("-invalid")
        values = {}
        for name, _label, kind in FIELDS:
            try:
                values[name] = parse_field(name, kind, self.query_one(f"#set-{name}", Input).value)
            except ConfigError:
                self.query_one(f"#set-{name}", Input).add_class("-invalid")
                raise
        try:
            sampling = SamplingSettings(**values).validate()
        except ConfigError as exc:
            for name, _label, _kind in FIELDS:
                if exc.message.startswith(f"invalid {name}:"):
                    self.query_one(f"#set-{name}", Input).add_class("-invalid")
            raise
        fmt = self.query_one("#settings-format", Select).value
        instruct = None if fmt == "auto" else fmt == "instruct"
        return sampling, self.query_one("#system-prompt", TextArea).text, instruct

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    def _edited(self, event: Message) -> None:
        event.stop()
        error = self.query_one("#settings-error", Static)
        try:
            sampling, system_prompt, instruct = self.read()
        except ConfigError as exc:
            error.update(f"✗ {exc}")
            return
        error.update("")
        self.post_message(self.Changed(sampling, system_prompt, instruct))

    def focus_first(self) -> None:
        self.query_one(f"#set-{FIELDS[0][0]}", Input).focus()
