"""A config file plus the values edited in the Training screen's form (no Textual).

The form shows the common fields (``FORM_KEYS``) as text. Edited fields become overrides that
are merged into the file's own mapping exactly like ``forgellm-tui train CONFIG --set KEY=VALUE``
does, so the run started in the app and the command line shown next to it use the same config.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from forgellm_tui.core.config import (FIELDS, ConfigFieldError, FieldInfo, TrainingConfig, field_errors, from_dict,
                                      merge_overrides, normalize)
from forgellm_tui.core.errors import ConfigError, ForgeError

FORM_KEYS = frozenset({
    "name", "training_type", "model", "data", "fine_tune_type", "num_layers", "lora_rank", "max_iterations", "epochs",
    "batch_size", "max_seq_length", "learning_rate", "lr_schedule", "warmup_steps", "steps_per_eval", "save_every",
    "early_stopping", "early_stopping_patience"})
"""The common keys the form shows; the others stay as the file sets them."""
FORM_FIELDS: tuple[FieldInfo, ...] = tuple(info for info in FIELDS.values() if info.name in FORM_KEYS)
"""The fields the form shows, in the schema's order."""
REQUIRED = ("model", "data")


def choices(info: FieldInfo) -> tuple[str, ...] | None:
    """The values of a field shown as a drop-down ("" = the default), or None for a text field."""
    if info.choices:
        return tuple(info.choices)
    if info.type is bool:
        return ("", "true", "false") if info.nullable else ("true", "false")
    return None


def as_text(info: FieldInfo, value: Any) -> str:
    """A value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if info.spellings:
        return info.spellings.get(str(value).strip().lower(), str(value))
    if info.choices:
        return str(value).strip().lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ConfigDraft:
    """``path`` (None: a new config) read once; ``texts`` are the form's current values."""

    def __init__(self, path: Path | None, workspace: Path) -> None:
        self.path = Path(path) if path is not None else None
        self.workspace = Path(workspace)
        self.raw: dict = {}
        self.read_error: str | None = None
        """Why the file cannot be used (unreadable, not YAML, not a mapping)."""
        if self.path is not None:
            from forgellm_tui.core.config import read_yaml

            try:
                self.raw = read_yaml(self.path)
            except ForgeError as exc:
                self.read_error = str(exc)
        values = normalize(self.raw).values
        self.base = {info.name: as_text(info, values.get(info.name, info.default)) for info in FORM_FIELDS}
        """The text each field starts with (the file's value, else the default)."""

    # ------------------------------------------------------------------ values
    def overrides(self, texts: dict[str, str]) -> dict[str, Any]:
        """Fields whose text differs from the file: canonical name -> text (None for empty)."""
        out: dict[str, Any] = {}
        for info in FORM_FIELDS:
            text = texts.get(info.name, self.base[info.name]).strip()
            if text != self.base[info.name]:
                out[info.name] = text if text else None
        return out

    def merged(self, texts: dict[str, str]) -> dict:
        return merge_overrides(self.raw, self.overrides(texts))

    def errors(self, texts: dict[str, str]) -> dict[str, str]:
        """Field name (or key as written in the file) -> message; empty when the values are valid."""
        if self.read_error:
            return {"(file)": self.read_error}
        merged = self.merged(texts)
        errors = field_errors(merged)
        values = normalize(merged).values
        for key in REQUIRED:
            if not values.get(key) and key not in errors:
                errors[key] = f"is required ({FIELDS[key].help})"
        return errors

    def build(self, texts: dict[str, str]) -> TrainingConfig:
        """The validated config (ConfigFieldError / ConfigError when it is not)."""
        if self.read_error:
            raise ConfigError(self.read_error)
        return from_dict(self.merged(texts), source=self.path, workspace=self.workspace)

    # ------------------------------------------------------------------ outputs
    def rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.workspace.resolve()).as_posix()
        except ValueError:
            return str(path)

    def command_args(self, texts: dict[str, str]) -> list[str]:
        """``train`` arguments: the config plus ``--name`` / ``--set KEY=VALUE`` for edited fields."""
        if self.path is None:
            raise ConfigError("the form is not saved in a config file yet", hint="save it first (ctrl+w)")
        args = ["train", self.rel(self.path)]
        for key, value in self.overrides(texts).items():
            if key == "name" and value:
                args += ["--name", value]
            else:
                args += ["--set", f"{key}={'null' if value is None else value}"]
        return args

    def command_line(self, texts: dict[str, str], cwd: Path | None = None) -> str:
        """What to type in a shell for the same run (``-w`` when the workspace is not the folder)."""
        args = self.command_args(texts)
        here = Path(cwd or os.getcwd()).resolve()
        prefix = ["forgellm-tui"]
        if here != self.workspace.resolve():
            from forgellm_tui.format import short_path

            prefix += ["-w", short_path(self.workspace)]
        return " ".join(shlex.quote(a) if not a.startswith("~") else a for a in prefix + args)

    def save_as(self, target: Path, texts: dict[str, str]) -> Path:
        """Write the resolved config (one comment per key) to a new file; never overwrites."""
        from forgellm_tui.core import fsio

        target = Path(target)
        if target.suffix not in (".yaml", ".yml"):
            target = target.with_name(target.name + ".yaml")
        if target.exists():
            raise ConfigError("a config with this name exists", path=target, hint="choose another name")
        cfg = self.build(texts)
        origin = f"# saved from {self.rel(self.path)} in the Training screen\n" if self.path else ""
        fsio.atomic_write_text(target, origin + cfg.to_yaml())
        return target


def split_errors(errors: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Errors of form fields (shown under the field) and the rest (``key: message`` lines)."""
    names = {info.name for info in FORM_FIELDS}
    inline = {k: m for k, m in errors.items() if k in names}
    rest = [f"{k}: {m}" if k != "(file)" else m for k, m in errors.items() if k not in names]
    return inline, rest


def config_field_errors(exc: ForgeError) -> dict[str, str]:
    """A ConfigFieldError's problems keyed by canonical field name (for the form)."""
    if isinstance(exc, ConfigFieldError):
        return {exc.fields.get(k, k): m for k, m in exc.errors.items()}
    return {"(file)": str(exc)}
