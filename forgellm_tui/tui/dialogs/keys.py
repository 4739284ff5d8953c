"""One set of keys for every dialog, shown in the dialog itself.

* Questions: the underlined letter of an answer picks it (``y``/``n`` in yes/no questions), Enter
  picks the highlighted answer, Esc cancels (nothing happens).
* Forms: ctrl+s (or Enter in a text field) confirms, Tab moves between fields, Esc cancels.
* Lists: Enter takes the highlighted entry, Esc cancels.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content

QUESTION_KEYS = [
    ("letter", "Pick the answer whose letter is underlined (y / n: yes / no)"),
    ("enter", "Pick the highlighted answer, or confirm a form (also ctrl+s)"),
    ("tab / shift+tab", "Move between the fields of a form"),
    ("esc", "Cancel: close the dialog, nothing changes"),
]
"""The dialog keys as the help screen lists them."""

SUBMIT = Binding("ctrl+s", "submit", "Confirm", tooltip="Confirm the form (like Enter in a field).")
CANCEL = Binding("escape", "cancel", "Cancel", tooltip="Close without changing anything.")


def key_label(key: str, label: str) -> Content:
    """``label`` with the letter ``key`` underlined (its first word-initial occurrence, else its first
    occurrence); ``label (key)`` when the letter is not in it."""
    lower = label.lower()
    starts = [i for i, ch in enumerate(lower) if ch == key and (i == 0 or not lower[i - 1].isalnum())]
    index = starts[0] if starts else lower.find(key)
    if len(key) != 1 or index < 0:
        return Content(f"{label} ({key})")
    return Content(label).stylize("underline bold", index, index + 1)


def question_hint(keys: list[str]) -> str:
    """The key line of a question: ``y / n pick · enter the highlighted one · esc cancel``."""
    return f"{' / '.join(keys)} pick · enter the highlighted one · esc cancel"


def form_hint(verb: str) -> str:
    """The key line of a form dialog."""
    return f"ctrl+s {verb} (or enter in a text field) · tab next field · esc cancel"
