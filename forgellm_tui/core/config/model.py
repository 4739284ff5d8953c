"""Training configs: YAML <-> ``TrainingConfig``, with validation that names key, value and range.

Accepts the seed ForgeLLM keys and mlx-lm's ``lora`` YAML keys (see ``config_schema``). Unknown
keys are errors with a "did you mean" suggestion; keys other tools write that training does not use
(``data_mixture_ratio``, ``report_to`` …) are kept and reported as notes.

API for the CLI and the TUI form:
- ``load_config(path, overrides=None, settings=None) -> TrainingConfig`` (raises ``ConfigFieldError``)
- ``from_dict(raw, source=None, workspace=None) -> TrainingConfig``
- ``field_errors(raw) -> {canonical key: message}`` (inline form errors; unknown keys as written)
- ``validate(cfg) -> list[str]`` ("key: message" lines for a built/edited config)
- ``parse_overrides(["key=value", ...]) -> dict``; ``cfg.to_yaml()`` / ``cfg.to_dict()``
- ``cli_command(config_path, overrides, name=None) -> str`` (the equivalent headless command)
- ``config_schema.FIELDS``: per field help, kind, choices, range, group and ``form`` (short form)
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgellm_tui.core.config.schema import (ALIASES, FIELDS, IGNORED_KEYS, LORA_MODULE_PRESETS, NESTED, OPTIMIZER_KWARGS,
                            SCHEDULES, FieldInfo, TrainingConfig)
from forgellm_tui.core.config.io import cli_command, config_to_yaml, merge_overrides, parse_overrides, read_yaml  # noqa: F401
from forgellm_tui.core.errors import ConfigError

#: whole numbers beyond a signed 64-bit integer are refused before anything converts them
_LARGEST = 2**63 - 1
_NUMBER = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")


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
    """Map every accepted spelling (aliases, nested mlx-lm sections, seed keys) to canonical names."""
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


def _coerce(info: FieldInfo, value: Any) -> Any:
    """Convert a YAML/CLI value to the field's type; ValueError(message) when it cannot be."""
    if value is None and info.kind == "schedule":
        return "constant"  # mlx-lm's default ``lr_schedule: null`` is a constant learning rate
    if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "~")
                         and info.kind not in ("str", "choice", "schedule")):
        if info.nullable:
            return None
        raise ValueError(f"must be set ({info.range_text() or info.kind})")
    kind = info.kind
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise ValueError(f"must be a number, got {value!r}")
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            value = float(value.replace("_", ""))
        if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"must be a number, got {_short(value)}")
        if abs(value) > _LARGEST:  # float() of a 400-digit int overflows; no setting needs such a number
            got = f"a {len(str(abs(value)))}-digit number" if isinstance(value, int) else f"{value:g}"
            raise ValueError(f"must be {'an integer' if kind == 'int' else 'a number'} {info.range_text()} (got {got})")
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"must be a whole number, got {value!r}")
            return int(value)
        return float(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ValueError(f"must be true or false, got {value!r}")
    if kind == "list":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"must be a list, got {value!r}")
        return list(value)
    if kind == "dict":
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping, got {value!r}")
        return dict(value)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"must be text, got {value!r}")
    value = str(value).strip()
    if kind in ("choice", "schedule"):
        value = value.lower()
        allowed = SCHEDULES if kind == "schedule" else info.choices
        if value not in allowed:
            close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown value {value!r} — {info.range_text()}{hint}")
        return SCHEDULES[value] if kind == "schedule" else value
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_range(info: FieldInfo, value: Any) -> str | None:
    if value is None or info.kind not in ("int", "float"):
        return None
    bad = ((info.above is not None and not value > info.above)
           or (info.minimum is not None and value < info.minimum)
           or (info.maximum is not None and value > info.maximum))
    if bad:
        what = "an integer" if info.kind == "int" else "a number"
        return f"must be {what} {info.range_text()} (got {value!r})"
    return None


def _cross_checks(v: dict[str, Any], explicit: set[str]) -> dict[str, str]:
    """Rules between fields. Keys are canonical names."""
    v = {**{name: info.default for name, info in FIELDS.items()}, **v}
    errors: dict[str, str] = {}
    if "max_iterations" in explicit and v.get("epochs") is not None:
        errors["epochs"] = "set either max_iterations or epochs, not both"
    if v["warmup_steps"] and v["epochs"] is None and v["warmup_steps"] >= v["max_iterations"]:
        errors["warmup_steps"] = (f"must be less than max_iterations ({v.get('max_iterations')}), "
                                  f"got {v['warmup_steps']}")
    args = v.get("lr_schedule_arguments")
    if ("learning_rate" in explicit and "learning_rate" in v and args and isinstance(args[0], (int, float))
            and not math.isclose(float(args[0]), v.get("learning_rate", 0.0), rel_tol=1e-9)):
        errors["learning_rate"] = (f"{v.get('learning_rate')} differs from lr_schedule.arguments[0] ({args[0]}), "
                                   "which is the learning rate mlx uses; keep only one")
    if v.get("training_type") == "cpt" and v.get("mask_prompt"):
        errors["mask_prompt"] = "prompt masking is for IFT (training_type: ift); CPT text has no prompt"
    if v.get("training_type") == "ift" and v.get("packing"):
        errors["packing"] = "packing is for CPT text; IFT keeps one conversation per row"
    for key in ("text_feature", "chat_feature", "prompt_feature", "completion_feature"):
        if not v.get(key):
            errors[key] = "must not be empty"
    keys = v.get("lora_keys")
    if keys is not None and (not keys or not all(isinstance(k, str) and k for k in keys)):
        errors["lora_keys"] = "must be a non-empty list of layer names such as self_attn.q_proj"
    opt = v["optimizer"]
    for name, kwargs in (v.get("optimizer_config") or {}).items():
        if name not in OPTIMIZER_KWARGS:
            errors["optimizer_config"] = f"unknown optimizer {name!r} — one of {', '.join(OPTIMIZER_KWARGS)}"
        elif not isinstance(kwargs, dict):
            errors["optimizer_config"] = f"{name} must map argument names to values"
        else:
            bad = [k for k in kwargs if k not in OPTIMIZER_KWARGS[name]]
            if bad:
                errors["optimizer_config"] = (f"{name} has no argument {bad[0]!r} — one of "
                                              f"{', '.join(OPTIMIZER_KWARGS[name])}")
            elif (problem := optimizer_value_error(name, kwargs)) is not None:
                errors["optimizer_config"] = problem
    if v.get("weight_decay") and "weight_decay" in explicit and "weight_decay" not in OPTIMIZER_KWARGS[opt]:
        errors["weight_decay"] = f"optimizer {opt} has no weight decay; use optimizer: adamw"
    errors.update(_schedule_checks(v))
    from forgellm_tui.core.distributed.hosts import section_errors
    from forgellm_tui.core.names import RULE, name_problem

    if v.get("name") is not None and (problem := name_problem(v["name"])) is not None:
        errors["name"] = f"{problem} — {RULE}"

    for key, message in section_errors(v.get("distributed"), v.get("batch_size")).items():
        errors.setdefault(key, message)
    return errors


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


#: optimizer argument -> (test, what it must be); mlx.optimizers takes any value and fails at the first step
_OPTIMIZER_VALUES = {
    "betas": (lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v),
              "two numbers in [0, 1), e.g. [0.9, 0.999]"),
    "eps": (lambda v: _is_number(v) and v > 0, "a number > 0, e.g. 1e-8"),
    "weight_decay": (lambda v: _is_number(v) and 0 <= v <= 1, "a number ≥ 0 and ≤ 1"),
    "momentum": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "dampening": (lambda v: _is_number(v) and 0 <= v <= 1, "a number ≥ 0 and ≤ 1"),
    "clip_threshold": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "decay_rate": (lambda v: _is_number(v) and -1 <= v < 0, "a number in [-1, 0), e.g. -0.8"),
    "beta_1": (lambda v: v is None or (_is_number(v) and 0 <= v < 1), "a number in [0, 1) or null"),
    "ns_steps": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100, "a whole number ≥ 1"),
}
_ADAFACTOR_EPS = (lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(e) and e > 0 for e in v),
                  "two numbers > 0, e.g. [1e-30, 1e-3]")


def optimizer_value_error(name: str, kwargs: dict) -> str | None:
    """The first ``optimizer_config.<name>`` argument whose value the optimizer cannot use."""
    for key, value in kwargs.items():
        test, what = _ADAFACTOR_EPS if (name, key) == ("adafactor", "eps") else _OPTIMIZER_VALUES.get(
            key, (lambda v: isinstance(v, bool), "true or false"))
        if not test(value):
            return f"{name}.{key} must be {what}, got {_short(value)}"
    return None


_SCHEDULE_ARGS = {"cosine": (2, 3, "[init, decay_steps, end]"), "linear": (3, 3, "[init, end, steps]"),
                  "exponential_decay": (2, 2, "[init, decay_rate]"), "step_decay": (3, 3, "[init, decay_rate, step_size]"),
                  "constant": (1, 1, "[learning_rate]")}


def _schedule_checks(v: dict[str, Any]) -> dict[str, str]:
    name = v["lr_schedule"]
    args = v.get("lr_schedule_arguments")
    if args is None:
        if name in ("exponential_decay", "step_decay"):
            return {"lr_schedule": f"{name} needs lr_schedule.arguments {_SCHEDULE_ARGS[name][2]}"}
        return {}
    lo, hi, shape = _SCHEDULE_ARGS[name]
    if not (lo <= len(args) <= hi) or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        return {"lr_schedule_arguments": f"{name} takes numbers {shape}, got {args!r}"}
    if not args[0] > 0:
        return {"lr_schedule_arguments": f"the first argument is the learning rate and must be > 0 (got {args[0]!r})"}
    return {}


def _build(raw: dict) -> tuple[dict[str, Any], Normalized, dict[str, str]]:
    """Normalize, coerce and check. Returns (values, normalized, errors keyed by key as written)."""
    if not isinstance(raw, dict):
        return {}, Normalized(), {"(file)": "the config must be a mapping of key: value lines"}
    norm = normalize(raw)
    errors = dict(norm.errors)
    values: dict[str, Any] = {}
    for name, value in norm.values.items():
        info = FIELDS[name]
        try:
            values[name] = _coerce(info, value)
        except ValueError as exc:
            errors[norm.origin[name]] = str(exc)
            continue
        if (msg := _check_range(info, values[name])) is not None:
            errors[norm.origin[name]] = msg
    args = values.get("lr_schedule_arguments")
    if args and "learning_rate" not in values and isinstance(args[0], (int, float)) and args[0] > 0:
        values["learning_rate"] = float(args[0])
    for name, msg in _cross_checks(values, set(norm.values)).items():
        errors.setdefault(norm.origin.get(name, name), msg)
    return values, norm, errors


def field_errors(raw: dict) -> dict[str, str]:
    """Inline errors for a form: canonical field name (or unknown key as written) -> message."""
    _, norm, errors = _build(raw)
    back = {written: canonical for canonical, written in norm.origin.items()}
    return {back.get(k, k): m for k, m in errors.items()}


def from_dict(raw: dict, *, source: str | Path | None = None, workspace: str | Path | None = None,
              require: tuple[str, ...] = ("model", "data")) -> TrainingConfig:
    """A validated TrainingConfig; ConfigFieldError lists every problem (key as written)."""
    values, norm, errors = _build(raw)
    for key in require:
        if not values.get(key) and key not in errors:
            errors[key] = f"is required ({FIELDS[key].help})"
    if errors:
        back = {written: canonical for canonical, written in norm.origin.items()}
        raise ConfigFieldError(errors, path=source, fields={k: back.get(k, k) for k in errors},
                               hint="fix the config and run again")
    cfg = TrainingConfig(**values, extra=dict(norm.extra))
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
    raw = {k: v for k, v in config_to_dict(cfg).items() if k not in cfg.extra}
    return [f"{k}: {m}" for k, m in field_errors(raw).items()] + [
        f"{k}: is required" for k in ("model", "data") if not getattr(cfg, k)]


def config_to_dict(cfg: TrainingConfig) -> dict:
    out = {name: getattr(cfg, name) for name in FIELDS if name != "max_iterations" or cfg.epochs is None}
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}
    out.update(cfg.extra)
    return out
