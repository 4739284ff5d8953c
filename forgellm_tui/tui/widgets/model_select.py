"""Which model's tokenizer counts the tokens: workspace models, any folder, or the word estimate."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select

OTHER = "__other_folder__"
"""Option value that asks for a folder path."""


def model_label(path: Path, workspace: Path | None = None) -> str:
    try:
        return str(path.relative_to(workspace)) if workspace else str(path)
    except ValueError:
        return str(path)


class ModelSelect(Select[str]):
    """A compact select; blank means "no model" (tiktoken or the 1.4 × words estimate)."""

    def __init__(self, workspace: Path, **kwargs) -> None:
        super().__init__([], prompt="no model: estimate", allow_blank=True, compact=True, **kwargs)
        self._workspace = workspace
        self._paths: list[Path] = []

    def set_models(self, paths: list[Path], current: Path | None) -> None:
        """Offer ``paths`` (plus ``current`` if it is elsewhere) and select ``current``."""
        self._paths = list(paths)
        if current is not None and current not in self._paths:
            self._paths.append(current)
        self.set_options(self.options())
        self.value = str(current) if current is not None else Select.NULL

    def options(self) -> list[tuple[str, str]]:
        """``(label, path)`` pairs for each known model, without the "other folder" entry."""
        return [(model_label(p, self._workspace), str(p)) for p in self._paths]

    def set_options(self, options) -> None:  # type: ignore[override]
        super().set_options([*options, ("other folder…", OTHER)])

    @property
    def model_path(self) -> Path | None:
        value = self.value
        if value == Select.NULL or value == OTHER or value is None:
            return None
        return Path(str(value))
