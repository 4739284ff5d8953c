"""The command palette: one entry for every key binding of the app and of each screen.

The table is built from the ``BINDINGS`` themselves, so a new key on a screen is a new palette
entry without further work (posting's ``commands.py`` keeps a single table the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from .fields import FIELD_BINDINGS


@dataclass(frozen=True)
class Command:
    """A palette entry: ``title`` is what one types, ``help`` the line below it."""

    title: str
    help: str
    callback: Callable[[], object]
    key: str


def bindings_of(cls) -> list[Binding]:
    """The ``Binding`` objects declared on ``cls`` (tuples are converted)."""
    out = []
    for item in getattr(cls, "BINDINGS", []):
        out.append(item if isinstance(item, Binding) else Binding(*item))
    return out


def command_table(app: App) -> list[Command]:
    """App bindings first, then each screen's, titled ``Screen: description``.

    ``app`` is the ForgeApp (typed as Textual's ``App``: this module is imported by the app module).
    """
    from .screens import MODE_SCREENS

    commands: list[Command] = []
    for binding in bindings_of(type(app)):
        if binding in FIELD_BINDINGS:
            continue
        title = _app_title(binding)
        commands.append(Command(title, f"key {app.get_key_display(binding)}",
                                partial(app.run_action, binding.action), binding.key))
    for mode, screen_cls in MODE_SCREENS.items():
        for binding in bindings_of(screen_cls):
            title = f"{screen_cls.SCREEN_TITLE}: {binding.tooltip or binding.description}".rstrip(".")
            commands.append(Command(title, f"key {app.get_key_display(binding)} on {screen_cls.SCREEN_TITLE}",
                                    partial(app.run_in_mode, mode, binding.action), binding.key))
        for sub in getattr(screen_cls, "SUB_SCREENS", ()):
            commands += _sub_commands(app, mode, screen_cls, sub)
    return commands


def _sub_commands(app: App, mode: str, screen_cls, sub) -> list[Command]:
    """A screen opened from a mode's screen (the Arena from Chat): its action runs there, opening it first."""
    where = f"{sub.SCREEN_TITLE} ({screen_cls.SCREEN_TITLE})"
    return [Command(f"{sub.SCREEN_TITLE}: {binding.tooltip or binding.description}".rstrip("."),
                    f"key {app.get_key_display(binding)} in the {where}",
                    partial(app.run_in_mode, mode, f"{sub.OPEN_ACTION}({binding.action!r})"), binding.key)
            for binding in bindings_of(sub)]


def _app_title(binding: Binding) -> str:
    if binding.action.startswith("switch_mode("):
        return f"Go to {binding.tooltip.removeprefix('Go to the ').removesuffix(' screen.')}"
    return (binding.tooltip or binding.description).rstrip(".")


class ForgeCommands(Provider):
    """Every action of the app, searchable by name."""

    def _commands(self) -> list[Command]:
        return command_table(self.app)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.callback, help=command.help)
