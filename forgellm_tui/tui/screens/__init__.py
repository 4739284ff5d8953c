"""The four top-level screens (app modes) and the help screen.

A screen's module is imported the first time that screen is needed, not with the app: the Chat and
Checkpoints screens pull in Markdown rendering, publishing and run analysis, and the first frame
(the Datasets screen) must not wait for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

_WHERE = {  # mode -> (module, class), in key order (1–4)
    "datasets": (".datasets", "DatasetsScreen"),
    "training": (".training", "TrainingScreen"),
    "chat": (".chat", "ChatScreen"),
    "checkpoints": (".checkpoints", "CheckpointsScreen"),
}


def screen_class(mode: str) -> type:
    """The screen class of ``mode``, importing its module on first use."""
    module, name = _WHERE[mode]
    return getattr(import_module(module, __name__), name)


class _ModeScreens(Mapping):
    """Mode name -> screen class; a class is imported when it is looked up."""

    def __getitem__(self, mode: str) -> type:
        return screen_class(mode)

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


MODE_SCREENS: Mapping[str, type] = _ModeScreens()
"""Mode name -> screen class, in key order (1–4)."""


class _Factory:
    """What ``App.MODES`` holds for a mode: called once, when the mode is first shown."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self):
        return screen_class(self.mode)()


MODE_FACTORIES = {mode: _Factory(mode) for mode in _WHERE}
"""Mode name -> callable that builds the mode's screen (for ``App.MODES``)."""

_BY_NAME = {name: mode for mode, (_module, name) in _WHERE.items()}


def __getattr__(name: str):
    if name in _BY_NAME:
        return screen_class(_BY_NAME[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ChatScreen", "CheckpointsScreen", "DatasetsScreen", "MODE_FACTORIES", "MODE_SCREENS", "TrainingScreen",
           "screen_class"]
