"""User-facing errors: one clear line naming the file or key, and the fix."""

from __future__ import annotations

from pathlib import Path


class ForgeError(Exception):
    """An error the user can fix. ``str(err)`` is the one-line message shown in the CLI and TUI."""

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.hint:
            text += f" — {self.hint}"
        return text


class ConfigError(ForgeError):
    """A training config that cannot be used."""


class DataError(ForgeError):
    """Dataset or prepared data that cannot be used."""


class ModelError(ForgeError):
    """A model folder that is missing or not a model."""


def first_invalid(cls: type, exc: Exception) -> tuple[str, object]:
    """``(field name, value as given)`` of the first problem in a pydantic ``ValidationError`` about a
    pydantic dataclass ``cls`` (an error about a positional argument names its index)."""
    error = exc.errors()[0]
    first = error["loc"][0] if error["loc"] else ""
    name = list(cls.__dataclass_fields__)[first] if isinstance(first, int) else str(first)
    return name, error["input"]
