"""Names the user gives to folders the app creates: runs, prepared data, published models.

Such a name becomes one folder under a folder the app owns (``models/cpt/<name>``, ``data/<name>``,
``published/<name>``), so it must be a single path component: ``../x`` or ``/x`` would point
somewhere else, and a folder there could be replaced. A leading ``.`` would hide the folder (and
clash with the ``.tmp-`` names of unfinished writes); a leading ``-`` reads as an option in shell
commands. The CLI, the TUI dialogs and config validation all use ``check_name``/``name_problem``.
"""

from __future__ import annotations

import re

from forgellm_tui.core.errors import ForgeError

MAX_LENGTH = 128
RULE = "use letters, digits, '.', '_' and '-' (not starting with '.' or '-')"
_ALLOWED = re.compile(r"[\w.-]+")


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a folder name the app creates; None when it can."""
    if not isinstance(name, str) or not name.strip():
        return "must not be empty"
    if "/" in name or "\\" in name or name in (".", ".."):
        return f"{name!r} is a path; give a single folder name"
    if name[0] in ".-":
        return f"{name!r} starts with {name[0]!r}"
    if len(name) > MAX_LENGTH:
        return f"is {len(name)} characters long; use at most {MAX_LENGTH}"
    if not _ALLOWED.fullmatch(name):
        bad = next(c for c in name if not _ALLOWED.fullmatch(c))
        return f"{name!r} contains {bad!r}"
    return None


def check_name(name: object, what: str = "name") -> str:
    """``name`` when it is a valid folder name; otherwise a one-line ForgeError saying why and the rule."""
    problem = name_problem(name)
    if problem is not None:
        raise ForgeError(f"{what}: {problem}", hint=RULE)
    return str(name)
