"""A plain view of each config key, read from ``TrainingConfig``'s pydantic fields.

Messages ("must be an integer ≥ 1 and ≤ 4096"), the YAML writer's comments, the Training form and
``forgellm-tui train --help`` read it, so a key is described once: in its ``Field``.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import AliasChoices, AliasPath, BeforeValidator

from forgellm_tui.core.config import values
from forgellm_tui.core.config.schema import GROUPS, INTERNAL, TrainingConfig

#: the choices messages name: exponential_decay and step_decay also need lr_schedule.arguments
_NAMED_CHOICES = {"lr_schedule": ("cosine", "linear", "constant")}


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: type                     # int, float, bool, str, list or dict
    default: Any
    help: str
    aliases: tuple[str, ...]       # other top-level spellings
    nested: tuple[str, ...]        # mlx-lm's nested spellings, "section.key"
    choices: tuple[str, ...]       # the allowed values of a choice
    spellings: dict[str, str]      # other accepted spellings of the choices -> choice
    minimum: float | None
    maximum: float | None
    above: float | None
    nullable: bool
    group: str
    path: bool

    @property
    def noun(self) -> str:
        """What the value is, in "must be set (...)" when nothing narrower can be said."""
        return "path" if self.path else self.type.__name__

    def range_text(self) -> str:
        """The allowed values, for messages: 'one of a, b', '≥ 1', '> 0 and ≤ 10'."""
        if self.choices:
            return "one of " + ", ".join(_NAMED_CHOICES.get(self.name, self.choices))
        parts = []
        if self.above is not None:
            parts.append(f"> {_num(self.above)}")
        if self.minimum is not None:
            parts.append(f"≥ {_num(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"≤ {_num(self.maximum)}")
        text = " and ".join(parts)
        if self.nullable:
            text = (text + " or null") if text else "or null"
        return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _bound(metadata: list, kind: type, attr: str) -> float | None:
    return next((getattr(m, attr) for m in metadata if isinstance(m, kind)), None)


def _info(name: str, field, group: str) -> FieldInfo:
    annotation = field.annotation
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = typing.get_args(annotation) if union else (annotation,)
    base = next(a for a in args if a is not type(None))
    choices = typing.get_args(base) if typing.get_origin(base) is Literal else ()
    alias = field.validation_alias if isinstance(field.validation_alias, AliasChoices) else AliasChoices(name)
    parser = next((m.func for m in field.metadata if isinstance(m, BeforeValidator)), None)
    return FieldInfo(
        name=name, type=str if choices else base, default=field.get_default(call_default_factory=True),
        help=field.description or "",
        aliases=tuple(a for a in alias.choices if isinstance(a, str) and a != name),
        nested=tuple(".".join(map(str, a.path)) for a in alias.choices if isinstance(a, AliasPath)),
        choices=tuple(choices), spellings=dict(getattr(parser, "spellings", {})),
        minimum=_bound(field.metadata, annotated_types.Ge, "ge"),
        maximum=_bound(field.metadata, annotated_types.Le, "le"),
        above=_bound(field.metadata, annotated_types.Gt, "gt"),
        nullable=type(None) in args, group=group, path=values.PATH in field.metadata)


def _fields() -> dict[str, FieldInfo]:
    out, group = {}, None
    starts = {first: name for name, first in GROUPS.items()}
    for name, field in TrainingConfig.__pydantic_fields__.items():
        if name not in INTERNAL:
            group = starts.get(name, group)
            out[name] = _info(name, field, group)
    return out


#: canonical field name -> FieldInfo, in declaration order
FIELDS: dict[str, FieldInfo] = _fields()
#: every accepted top-level spelling -> canonical name
ALIASES: dict[str, str] = {a: name for name, info in FIELDS.items() for a in (name, *info.aliases)}
#: nested mlx-lm keys (``section.key``) -> canonical name
NESTED: dict[str, str] = {key: name for name, info in FIELDS.items() for key in info.nested}
