"""Rules between the training config's fields (the config's pydantic ``model_validator``).

``rule_problems(cfg, explicit)`` returns ``{field: message}``; ``explicit`` holds the fields the
file (or form) set, for rules that only apply to values given on purpose. The checks of
``optimizer_config`` are here too: mlx.optimizers takes any value and fails at the first step.
"""

from __future__ import annotations

import math
from typing import Any

from forgellm_tui.core.config.values import short

#: error type of the rules' ``PydanticCustomError``; its context ``problems`` is ``{field: message}``
RULES = "config_rules"
#: keyword arguments each optimizer accepts in ``optimizer_config`` (mlx.optimizers signatures)
OPTIMIZER_KWARGS = {
    "adam": ("betas", "eps", "bias_correction"),
    "adamw": ("betas", "eps", "weight_decay", "bias_correction"),
    "sgd": ("momentum", "weight_decay", "dampening", "nesterov"),
    "adafactor": ("eps", "clip_threshold", "decay_rate", "beta_1", "weight_decay", "scale_parameter",
                  "relative_step", "warmup_init"),
    "muon": ("momentum", "weight_decay", "nesterov", "ns_steps"),
}


def rule_problems(cfg: Any, explicit: set[str]) -> dict[str, str]:
    """Problems between fields of ``cfg`` (a TrainingConfig, maybe with out-of-range values as given)."""
    from forgellm_tui.core.config.distributed_section import section_problems
    from forgellm_tui.core.names import RULE, name_problem

    errors: dict[str, str] = {}
    if "max_iterations" in explicit and cfg.epochs is not None:
        errors["epochs"] = "set either max_iterations or epochs, not both"
    if cfg.warmup_steps and cfg.epochs is None and cfg.warmup_steps >= cfg.max_iterations:
        errors["warmup_steps"] = f"must be less than max_iterations ({cfg.max_iterations}), got {cfg.warmup_steps}"
    args = cfg.lr_schedule_arguments
    if ("learning_rate" in explicit and args and isinstance(args[0], (int, float))
            and not math.isclose(float(args[0]), cfg.learning_rate, rel_tol=1e-9)):
        errors["learning_rate"] = (f"{cfg.learning_rate} differs from lr_schedule.arguments[0] ({args[0]}), "
                                   "which is the learning rate mlx uses; keep only one")
    if cfg.training_type == "cpt" and cfg.mask_prompt:
        errors["mask_prompt"] = "prompt masking is for IFT (training_type: ift); CPT text has no prompt"
    if cfg.training_type == "cpt" and cfg.train_on not in (None, "all"):
        errors["train_on"] = "choosing the trained turns is for IFT (training_type: ift); CPT trains on all text"
    if cfg.train_on is not None and cfg.mask_prompt is not None and (cfg.train_on == "all") == cfg.mask_prompt:
        errors["train_on"] = (f"train_on: {cfg.train_on} contradicts mask_prompt: {str(cfg.mask_prompt).lower()} "
                              "— keep only train_on")
    if cfg.training_type == "ift" and cfg.packing:
        errors["packing"] = ("packing is for CPT text: packed conversations would attend to each other, and "
                             "mlx-lm's models take no attention mask (Model.__call__(inputs, cache, "
                             "input_embeddings) builds its own causal one) — IFT keeps one conversation per row")
    if cfg.training_type in ("dpo", "orpo") and cfg.packing:
        errors["packing"] = (f"packing is for CPT text: {cfg.training_type.upper()} compares the chosen and the "
                             "rejected answer of each pair, one pair per row (set packing: false)")
    for key in ("text_feature", "chat_feature", "prompt_feature", "completion_feature"):
        if not getattr(cfg, key):
            errors[key] = "must not be empty"
    keys = cfg.lora_keys
    if keys is not None and (not keys or not all(isinstance(k, str) and k for k in keys)):
        errors["lora_keys"] = "must be a non-empty list of layer names such as self_attn.q_proj"
    if (problem := _optimizer_config_problem(cfg.optimizer_config or {})) is not None:
        errors["optimizer_config"] = problem
    if cfg.weight_decay and "weight_decay" in explicit and "weight_decay" not in OPTIMIZER_KWARGS[cfg.optimizer]:
        errors["weight_decay"] = f"optimizer {cfg.optimizer} has no weight decay; use optimizer: adamw"
    errors.update(_schedule_problems(cfg.lr_schedule, args))
    if cfg.name is not None and (problem := name_problem(cfg.name)) is not None:
        errors["name"] = f"{problem} — {RULE}"
    for key, message in section_problems(cfg.distributed, cfg.batch_size).items():
        errors.setdefault(key, message)
    return errors


def _optimizer_config_problem(config: dict) -> str | None:
    problem = None
    for name, kwargs in config.items():  # the last problem is reported, one line for the key
        if name not in OPTIMIZER_KWARGS:
            problem = f"unknown optimizer {name!r} — one of {', '.join(OPTIMIZER_KWARGS)}"
        elif not isinstance(kwargs, dict):
            problem = f"{name} must map argument names to values"
        elif bad := [k for k in kwargs if k not in OPTIMIZER_KWARGS[name]]:
            problem = f"{name} has no argument {bad[0]!r} — one of {', '.join(OPTIMIZER_KWARGS[name])}"
        elif (value_problem := optimizer_value_error(name, kwargs)) is not None:
            problem = value_problem
    return problem


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


#: optimizer argument -> (test, what it must be)
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
            return f"{name}.{key} must be {what}, got {short(value)}"
    return None


_SCHEDULE_ARGS = {"cosine": (2, 3, "[init, decay_steps, end]"), "linear": (3, 3, "[init, end, steps]"),
                  "exponential_decay": (2, 2, "[init, decay_rate]"), "step_decay": (3, 3, "[init, decay_rate, step_size]"),
                  "constant": (1, 1, "[learning_rate]")}


def _schedule_problems(name: str, args: list | None) -> dict[str, str]:
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
