"""Text fields and the screen keys around them.

While a text field (an ``Input``, an editable ``TextArea``) has the focus, every printable key is
typed into it: ``1``–``4``, ``?`` and ``q`` are not screen keys there. Esc leaves the field (the
screens bind it to :func:`leave_field`), ctrl+q quits from anywhere, and number fields refuse
what cannot be part of a number as it is typed (``restrict`` patterns below).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widget import Widget

INTEGER_CHARS = r"[-+]?[0-9_]*"
"""What an integer field accepts while typing (``-1``, ``1_000``)."""
NUMBER_CHARS = r"[-+]?[0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9]*)?"
"""What a decimal field accepts while typing (``0.8``, ``2e-4``, ``1.0e-3``)."""
POSITIVE_CHARS = r"[0-9_,]*"
"""A count typed by hand (``1,000``): digits and separators only."""

FIELD_BINDINGS = [
    # Two bindings on ctrl+q: the first is shown in the footer while a text field has the focus (where
    # "q" is typed as text), the second quits from anywhere else without a second "Quit" in the footer.
    Binding("ctrl+q", "quit_from_field", "Quit", priority=True, id="quit-field",
            tooltip="Quit, also while typing in a text field (asks first while work is running)."),
    Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
]
"""App keys that matter while typing in a field; not palette commands (the palette is a field itself)."""


def is_typing(widget: Widget | None) -> bool:
    """True when ``widget`` takes printable keys as text (so ``q`` or ``4`` would be typed into it)."""
    return widget is not None and widget.check_consume_key("q", "q")


def leave_target(field: Widget) -> Widget | None:
    """Where the focus goes when Esc leaves ``field``: the nearest focusable container around it
    (the Training form keeps the focus, so Tab returns to its fields), else nothing (the screen)."""
    for node in field.ancestors:
        if isinstance(node, Widget) and node.focusable and not is_typing(node) and node is not field.screen:
            return node
    return None


def leave_field(screen, target: Widget | None = None) -> None:
    """Move the focus out of the text field on ``screen``: to ``target``, or as :func:`leave_target` says."""
    field = screen.focused
    if not is_typing(field):
        return
    target = target if target is not None else leave_target(field)
    if target is not None:
        target.focus()
    else:
        screen.set_focus(None)
