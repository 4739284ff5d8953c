"""Radio buttons and checkboxes whose state shows without colour.

Textual draws the same mark (``▐●▌``, ``▐X▌``) on and off and tells them apart by colour only, which
a monochrome terminal, a screen reader's text or a colour-blind eye cannot see: these draw the mark
only when on (``▐●▌`` / ``▐ ▌``).
"""

from __future__ import annotations

from textual.widgets import Checkbox, RadioButton


class MarkedRadioButton(RadioButton):
    """A radio button that shows ``●`` only when it is the chosen one."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 - the name Textual's ToggleButton reads
        return "●" if self.value else " "


class MarkedCheckbox(Checkbox):
    """A checkbox that shows ``X`` only when it is ticked."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 - the name Textual's ToggleButton reads
        return "X" if self.value else " "
