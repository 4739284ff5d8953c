"""How a value written in YAML, given with ``--set KEY=VALUE`` or typed in the Training form becomes a field's type.

Pydantic before-validators of the config fields. The form and ``--set`` give text ("8", "1e-4",
"true", "null"); YAML gives numbers, booleans, lists and mappings. A value that cannot be used raises
``PydanticCustomError`` whose message is the one shown after the key ("must be a number, got
'four'"); ranges and allowed choices are left to the fields' pydantic constraints.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

#: whole numbers beyond a signed 64-bit integer are refused before anything converts them
_LARGEST = 2**63 - 1
_NUMBER = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_NULL_TEXTS = ("null", "none", "~")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
#: error type of a value too large for any setting; the message adds the field's range
TOO_LARGE = "too_large"
#: error type whose message is shown as it is
PROBLEM = "config_value"


def problem(message: str) -> PydanticCustomError:
    return PydanticCustomError(PROBLEM, "{message}", {"message": message})


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _null_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in _NULL_TEXTS


def _numeric(value: Any) -> int | float | None:
    if value is None or _null_text(value):
        return None
    if isinstance(value, bool):
        raise problem(f"must be a number, got {value!r}")
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = float(value.replace("_", ""))
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise problem(f"must be a number, got {short(value)}")
    if abs(value) > _LARGEST:  # float() of a 400-digit int overflows; no setting needs such a number
        got = f"a {len(str(abs(value)))}-digit number" if isinstance(value, int) else f"{value:g}"
        raise PydanticCustomError(TOO_LARGE, "{got}", {"got": got})
    return value


def _number(value: Any) -> float | None:
    value = _numeric(value)
    return None if value is None else float(value)


def _whole_number(value: Any) -> int | None:
    value = _numeric(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise problem(f"must be a whole number, got {value!r}")
        return int(value)
    return value


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None or _null_text(value):
        return None
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    raise problem(f"must be true or false, got {value!r}")


def _names(value: Any) -> list | None:
    if value is None or _null_text(value):
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise problem(f"must be a list, got {value!r}")
    return list(value)


def _prompts(value: Any) -> list | None:
    """Prompts are whole texts (commas included): one text is one prompt, a list is several."""
    if value is None or _null_text(value):
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) and p.strip() for p in value):
        raise problem(f"must be a list of non-empty texts, e.g. ['def read_file('], got {short(value)}")
    return list(value)


def _mapping(value: Any) -> dict | None:
    if value is None or _null_text(value):
        return None
    if not isinstance(value, dict):
        raise problem(f"must be a mapping, got {value!r}")
    return dict(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise problem(f"must be text, got {value!r}")
    return str(value).strip()


def _path_text(value: Any) -> str | None:
    return None if _null_text(value) else _text(value)


def _choice(value: Any) -> str | None:
    value = _text(value)
    return None if value is None else value.lower()


NUMBER = BeforeValidator(_number)
WHOLE_NUMBER = BeforeValidator(_whole_number)
FLAG = BeforeValidator(_flag)
NAMES = BeforeValidator(_names)
MAPPING = BeforeValidator(_mapping)
PROMPTS = BeforeValidator(_prompts)
TEXT = BeforeValidator(_text)
#: like TEXT, but "null" text leaves the path unset
PATH = BeforeValidator(_path_text)
#: case-insensitive text for a ``Literal`` field
CHOICE = BeforeValidator(_choice)


def spelled(spellings: dict[str, str], unset: str) -> BeforeValidator:
    """CHOICE that also maps other accepted spellings to the field's own (``cosine_decay`` -> ``cosine``)."""

    def parse(value: Any) -> str | None:
        if value is None:
            return unset
        value = _choice(value)
        return spellings.get(value, value)

    parse.spellings = spellings  # read by the form and by messages ("did you mean")
    return BeforeValidator(parse)
