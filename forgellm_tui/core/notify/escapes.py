"""The bytes that make a terminal ring or show a desktop notification.

- ``bell``: BEL (``\\a``) only; every terminal knows it, and tmux forwards it to the outer terminal.
- ``osc``: BEL plus one desktop-notification escape. Which one: OSC 777 (``ESC ] 777 ; notify ;
  TITLE ; BODY BEL``) where the terminal wants it — ``TERM`` starting with ``rxvt`` (urxvt's notify
  extension) or ``foot``, or ``VTE_VERSION`` set (GNOME Terminal, Tilix and other VTE terminals);
  everywhere else OSC 9 (``ESC ] 9 ; TITLE: BODY BEL``: iTerm2, WezTerm, kitty, Ghostty, Windows
  Terminal). One escape, never both: terminals that know both would show the notice twice. A
  terminal that knows neither ignores the sequence (an OSC is skipped up to its terminator).
- ``off``: nothing.

Inside tmux (``$TMUX`` set) tmux would swallow the OSC, so it travels in a passthrough wrapper
(``ESC P tmux; … ESC \\`` with each ESC of the sequence doubled); tmux 3.3 and later forward it
only with ``set -g allow-passthrough on``. The bell is not wrapped: tmux handles BEL itself.
Over SSH nothing changes: the escapes reach the local terminal like any other output.
"""

from __future__ import annotations

import re
from typing import Mapping

from forgellm_tui.settings import DEFAULT_NOTIFY as DEFAULT_MODE
from forgellm_tui.settings import NOTIFY_MODES as MODES
from forgellm_tui.settings import NOTIFY_VAR as ENV_VAR
from forgellm_tui.settings import parse_notify as parse_mode

BELL, OSC, OFF = MODES

ESC, BEL = "\x1b", "\x07"
#: C0 and C1 control characters: one in a title would end the escape early or start another
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: notification text is cut here (terminals show one or two lines)
MAX_TEXT = 200


def wants_osc777(env: Mapping[str, str]) -> bool:
    """Whether the terminal shows OSC 777 notifications rather than OSC 9 ones (rule in the module doc)."""
    term = env.get("TERM", "")
    return term.startswith(("rxvt", "foot")) or bool(env.get("VTE_VERSION"))


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` as one line without control characters, at most ``limit`` characters."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def desktop_escape(title: str, body: str, env: Mapping[str, str]) -> str:
    """The OSC 9 or OSC 777 notification (without the tmux wrapper)."""
    title, body = clean(title), clean(body)
    if wants_osc777(env):  # ';' separates the fields of OSC 777: none may be in the title
        return f"{ESC}]777;notify;{title.replace(';', ',')};{body}{BEL}"
    return f"{ESC}]9;{title}: {body}{BEL}"


def tmux_wrap(sequence: str) -> str:
    """``sequence`` in tmux's passthrough DCS, each ESC doubled."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ESC}\\"


def escape_text(mode: str, title: str, body: str, env: Mapping[str, str]) -> str:
    """What to write to the terminal for one notice in ``mode`` ('' for ``off``)."""
    if mode == OFF:
        return ""
    if mode == BELL:
        return BEL
    osc = desktop_escape(title, body, env)
    return BEL + (tmux_wrap(osc) if env.get("TMUX") else osc)
