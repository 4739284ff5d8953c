"""Training configs: YAML <-> ``TrainingConfig``, with validation that names key, value and range.

Accepts the original ForgeLLM's keys and mlx-lm's ``lora`` YAML keys (the fields' aliases). Unknown
keys are errors with a "did you mean" suggestion; keys other tools write that training does not use
(``data_mixture_ratio``, ``report_to`` …) are kept and reported as notes. ``normalize`` maps every
spelling to its field, pydantic checks the values, and its errors become one message per key as
written.

API for the CLI and the TUI form:
- ``load_config(path, overrides=None, settings=None) -> TrainingConfig`` (raises ``ConfigFieldError``)
- ``from_dict(raw, source=None, workspace=None) -> TrainingConfig``
- ``field_errors(raw) -> {canonical key: message}`` (inline form errors; unknown keys as written)
- ``validate(cfg) -> list[str]`` ("key: message" lines for a built/edited config)
- ``parse_overrides(["key=value", ...]) -> dict``; ``cfg.to_yaml()`` / ``cfg.to_dict()``
- ``cli_command(config_path, overrides, name=None) -> str`` (the equivalent headless command)
- ``fields.FIELDS``: per key its description, type, choices, range and group
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from forgellm_tui.core.config.fields import ALIASES, FIELDS, NESTED, FieldInfo
from forgellm_tui.core.config.io import cli_command, config_to_yaml, merge_overrides, parse_overrides, read_yaml  # noqa: F401
from forgellm_tui.core.config.rules import RULES, rule_problems
from forgellm_tui.core.config.schema import IGNORED_KEYS, LORA_MODULE_PRESETS, TrainingConfig
from forgellm_tui.core.config.values import PROBLEM, TOO_LARGE
from forgellm_tui.core.errors import ConfigError

_ADAPTER = TypeAdapter(TrainingConfig)
#: pydantic's error types of a value outside the field's range
_RANGE = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


class ConfigFieldError(ConfigError):
    """Invalid config values. ``errors``: key (as written) -> message; ``key``/``field``: the first one."""

    def __init__(self, errors: dict[str, str], *, path: str | Path | None = None, fields: dict[str, str] | None = None,
                 hint: str | None = None):
        self.errors = dict(errors)
        self.key = next(iter(self.errors), None)
        self.fields = dict(fields or {})
        self.field = self.fields.get(self.key, self.key) if self.key else None
        text = "; ".join(f"{k}: {m}" for k, m in self.errors.items())
        super().__init__(text, path=path, hint=hint)


@dataclass
class Normalized:
    values: dict[str, Any] = field(default_factory=dict)   # canonical -> raw value
    origin: dict[str, str] = field(default_factory=dict)   # canonical -> key as written
    errors: dict[str, str] = field(default_factory=dict)   # key as written -> message
    notes: list[str] = field(default_factory=list)          # ignored keys, for log lines
    extra: dict[str, Any] = field(default_factory=dict)


def _suggest(key: str) -> str:
    names = list(ALIASES) + list(NESTED) + ["lora_parameters", "lora_modules"]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _put(norm: Normalized, canonical: str, value: Any, written: str) -> None:
    if canonical in norm.values:
        first = norm.origin[canonical]
        norm.errors[written] = f"sets the same value as '{first}'; keep only one of them"
        return
    norm.values[canonical] = value
    norm.origin[canonical] = written


def normalize(raw: dict) -> Normalized:
    """Map every accepted spelling (aliases, nested mlx-lm sections, original ForgeLLM keys) to canonical names."""
    norm = Normalized()
    for key, value in raw.items():
        key = str(key)
        if key == "lora_parameters":
            if not isinstance(value, dict):
                norm.errors[key] = "must be a mapping with rank, scale, dropout (and optional keys)"
                continue
            for sub, v in value.items():
                if sub == "alpha":
                    norm.errors[f"{key}.alpha"] = "mlx-lm uses 'scale', not 'alpha' — rename it to scale"
                elif f"{key}.{sub}" in NESTED:
                    _put(norm, NESTED[f"{key}.{sub}"], v, f"{key}.{sub}")
                else:
                    norm.errors[f"{key}.{sub}"] = "unknown key — one of rank, scale, dropout, keys"
        elif key == "lr_schedule" and isinstance(value, dict):
            if "name" not in value:
                norm.errors[key] = "a schedule mapping needs 'name' (cosine_decay, linear_schedule, …)"
            for sub, v in value.items():
                if f"{key}.{sub}" in NESTED:
                    _put(norm, NESTED[f"{key}.{sub}"], v, f"{key}.{sub}")
                else:
                    norm.errors[f"{key}.{sub}"] = "unknown key — one of name, arguments, warmup, warmup_init"
        elif key == "lora_modules":
            if isinstance(value, list):
                _put(norm, "lora_keys", value, key)
            elif isinstance(value, str) and value in LORA_MODULE_PRESETS:
                _put(norm, "lora_keys", LORA_MODULE_PRESETS[value], key)
            else:
                norm.errors[key] = f"unknown value {value!r} — one of {', '.join(LORA_MODULE_PRESETS)} or a list"
        elif key in ALIASES:
            _put(norm, ALIASES[key], value, key)
        elif key in IGNORED_KEYS:
            norm.extra[key] = value
            norm.notes.append(f"{key}: ignored by training ({IGNORED_KEYS[key]})")
        else:
            norm.errors[key] = "unknown key" + _suggest(key)
    return norm


def _message(info: FieldInfo, error: dict) -> str:
    """Pydantic's error for one field as the line shown after the key."""
    kind, given = error["type"], error["input"]
    what = "an integer" if info.type is int else "a number"
    if kind == PROBLEM:
        return error["ctx"]["message"]
    if kind == TOO_LARGE:
        return f"must be {what} {info.range_text()} (got {error['ctx']['got']})"
    if kind in _RANGE:
        return f"must be {what} {info.range_text()} (got {given!r})"
    if given is None:
        return f"must be set ({info.range_text() or info.noun})"
    if kind == "literal_error":
        close = difflib.get_close_matches(given, list(info.spellings or info.choices), n=1, cutoff=0.5)
        return f"unknown value {given!r} — {info.range_text()}" + (f" (did you mean '{close[0]}'?)" if close else "")
    return error["msg"]


def _check(values: dict[str, Any], explicit: set[str]) -> tuple[TrainingConfig | None, dict[str, str], dict[str, str]]:
    """Validate canonical values: (config, {field: problem of its value}, {field: problem between fields}).

    When a value fails, the rules between fields still run over the others (and over values that
    are only out of range, as given), so a form shows all its problems together; the config
    returned then holds defaults in place of the values that failed.
    """
    try:
        return _ADAPTER.validate_python(values, context={"explicit": explicit}), {}, {}
    except ValidationError as exc:
        failed = [e for e in exc.errors() if e["type"] != RULES and e["loc"]]
    problems = {e["loc"][0]: _message(FIELDS[e["loc"][0]], e) for e in failed}
    try:
        partial = _ADAPTER.validate_python({k: x for k, x in values.items() if k not in problems})
    except ValidationError:
        return None, problems, {}
    for e in failed:
        if e["type"] in _RANGE:
            setattr(partial, e["loc"][0], e["input"])
    return partial, problems, rule_problems(partial, explicit)


def _build(raw: dict) -> tuple[TrainingConfig | None, Normalized, dict[str, str]]:
    """Normalize and validate. Returns (config, normalized, errors keyed by key as written)."""
    if not isinstance(raw, dict):
        return None, Normalized(), {"(file)": "the config must be a mapping of key: value lines"}
    norm = normalize(raw)
    cfg, problems, rules = _check({**norm.values, "extra": dict(norm.extra)}, set(norm.values))
    errors = dict(norm.errors)
    errors.update((norm.origin[name], problems[name]) for name in norm.values if name in problems)
    for name, message in rules.items():
        errors.setdefault(norm.origin.get(name, name), message)
    return cfg, norm, errors


def field_errors(raw: dict) -> dict[str, str]:
    """Inline errors for a form: canonical field name (or unknown key as written) -> message."""
    _, norm, errors = _build(raw)
    back = {written: canonical for canonical, written in norm.origin.items()}
    return {back.get(k, k): m for k, m in errors.items()}


def from_dict(raw: dict, *, source: str | Path | None = None, workspace: str | Path | None = None,
              require: tuple[str, ...] = ("model", "data")) -> TrainingConfig:
    """A validated TrainingConfig; ConfigFieldError lists every problem (key as written)."""
    cfg, norm, errors = _build(raw)
    for key in require:
        if not (getattr(cfg, key) if cfg is not None else norm.values.get(key)) and key not in errors:
            errors[key] = f"is required ({FIELDS[key].help})"
    if errors:
        back = {written: canonical for canonical, written in norm.origin.items()}
        raise ConfigFieldError(errors, path=source, fields={k: back.get(k, k) for k in errors},
                               hint="fix the config and run again")
    cfg.workspace = str(workspace) if workspace is not None else None
    cfg.source = str(source) if source is not None else None
    return cfg


def load_config(path: str | Path, overrides: dict | None = None, settings=None) -> TrainingConfig:
    """Read, merge ``overrides`` (``{"batch_size": 8}``) and validate. Paths stay workspace-relative."""
    if settings is None:
        from forgellm_tui.settings import Settings

        settings = Settings.load()
    raw = read_yaml(path)
    if overrides:
        raw = merge_overrides(raw, overrides)
    return from_dict(raw, source=path, workspace=settings.workspace)


def validate(cfg: TrainingConfig) -> list[str]:
    """Problems of an edited config as "key: message" lines (empty when it is valid)."""
    raw = {k: v for k, v in cfg.to_dict().items() if k not in cfg.extra}
    return [f"{k}: {m}" for k, m in field_errors(raw).items()] + [
        f"{k}: is required" for k in ("model", "data") if not getattr(cfg, k)]


