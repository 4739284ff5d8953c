"""Config files: YAML reading (with clear syntax errors), ``--set`` overrides, commented YAML output."""

from __future__ import annotations

import re
from pathlib import Path

from forgellm_tui.core.config.fields import ALIASES, NESTED
from forgellm_tui.core.config.schema import TrainingConfig
from forgellm_tui.core.errors import ConfigError


def _yaml_loader():
    import yaml

    class DuplicateKey(yaml.YAMLError):
        def __init__(self, key, line: int, first: int):
            super().__init__(f"duplicate key {key!r}")
            self.key, self.line, self.first = key, line, first

    class Loader(yaml.SafeLoader):
        """SafeLoader that also reads 5e-5 as a float (YAML 1.1 needs a dot), like mlx-lm.

        A key written twice in one mapping is an error: YAML readers keep the last value, so a
        forgotten earlier line would silently change the run.
        """

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    try:
                        if key in seen:
                            raise DuplicateKey(key, line, seen[key])
                    except TypeError:  # an unhashable key: the constructor reports it
                        continue
                    seen[key] = line
            return super().construct_mapping(node, deep)

    Loader.DuplicateKey = DuplicateKey

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
                   r"|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
        list("-+0123456789."))
    return Loader


def read_yaml(path: str | Path) -> dict:
    """The mapping in a YAML file; ConfigError naming the file (and line) when it cannot be read."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=path, hint="check the path (configs/ holds examples)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file ({exc})", path=path, hint="check the file") from None
    loader = _yaml_loader()
    try:
        data = yaml.load(text, Loader=loader)
    except loader.DuplicateKey as exc:
        raise ConfigError(f"key {exc.key!r} appears twice (line {exc.first} and line {exc.line})", path=path,
                          hint="keep one of them") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"YAML syntax error{where}: {problem}", path=path,
                          hint="fix the YAML (indentation, quotes, 'key: value')") from None
    if data is None:
        raise ConfigError("config file is empty", path=path, hint="add at least model: and data:")
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping of 'key: value' lines", path=path, hint="see configs/ for examples")
    return data


def parse_overrides(items: list[str] | None) -> dict:
    """``["batch_size=8", "lora_parameters.rank=16"]`` -> nested dict with YAML-typed values."""
    import yaml

    out: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not KEY=VALUE", hint="e.g. --set batch_size=8")
        try:
            value = yaml.load(text, Loader=_yaml_loader()) if text.strip() else None
        except yaml.YAMLError:
            value = text
        target = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def merge_overrides(raw: dict, overrides: dict) -> dict:
    """Overrides win; a spelling of the same field in the file is dropped (``iters`` vs ``max_iterations``)."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}

    def drop(canonical: str, keep: str) -> None:
        for existing in list(merged):
            if existing != keep and ALIASES.get(existing) == canonical:
                del merged[existing]
            elif isinstance(merged[existing], dict) and existing in ("lora_parameters", "lr_schedule"):
                for sub in list(merged[existing]):
                    if NESTED.get(f"{existing}.{sub}") == canonical and f"{existing}.{sub}" != keep:
                        del merged[existing][sub]

    for key, value in overrides.items():
        if isinstance(value, dict) and key in ("lora_parameters", "lr_schedule", "distributed"):
            for sub in value:
                if f"{key}.{sub}" in NESTED:
                    drop(NESTED[f"{key}.{sub}"], f"{key}.{sub}")
            base = merged.get(key)
            merged[key] = {**base, **value} if isinstance(base, dict) else value
            continue
        if key == "lr_schedule" and isinstance(merged.get(key), dict):
            merged[key]["name"] = value       # keep the file's warmup settings
            continue
        if key in ALIASES:
            drop(ALIASES[key], key)
        merged[key] = value
    return merged


def config_to_yaml(cfg: TrainingConfig, comments: bool = True) -> str:
    """The config as commented YAML (``TrainingConfig.to_yaml``)."""
    return cfg.to_yaml(comments=comments)


def cli_command(config_path: str | Path, overrides: dict | None = None, *, name: str | None = None,
                workspace: str | Path | None = None, detach: bool = False) -> str:
    """The equivalent headless command line, e.g. for the TUI to show and the user to copy."""
    import shlex

    parts = ["forgellm-tui"]
    if workspace is not None:
        parts += ["--workspace", str(workspace)]
    parts += ["train", str(config_path)]
    if name:
        parts += ["--name", name]

    def flat(prefix: str, value) -> list[tuple[str, object]]:
        if isinstance(value, dict):
            return [kv for k, v in value.items() for kv in flat(f"{prefix}.{k}", v)]
        return [(prefix, value)]

    import yaml

    for key, value in (overrides or {}).items():
        for k, v in flat(key, value):
            text = yaml.safe_dump(v, default_flow_style=True, width=10_000).strip()
            text = text[:-4].rstrip() if text.endswith("\n...") or text.endswith(" ...") else text
            parts += ["--set", f"{k}={text}"]
    if detach:
        parts.append("--detach")
    return " ".join(shlex.quote(p) for p in parts)
