"""The full-screen Textual app. ``ForgeApp`` is imported lazily by the CLI."""

from __future__ import annotations

__all__ = ["ForgeApp"]


def __getattr__(name: str):
    if name == "ForgeApp":
        from .app import ForgeApp

        return ForgeApp
    raise AttributeError(name)
