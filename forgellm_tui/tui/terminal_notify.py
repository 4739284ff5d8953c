"""The bell and desktop notification of a run trained in the app, written to the app's terminal.

The escapes go through Textual's driver (``App._driver.write``, the channel Textual's own
``App.bell`` uses), so they travel in order with the screen updates instead of racing them on
stdout. The mode is the workspace setting ``FORGELLM_NOTIFY`` (``app.settings.notify``).
"""

from __future__ import annotations

import os

from forgellm_tui.core.notify import OFF, escape_text, notice_for


def ring(app, event, run_name: str = "") -> bool:
    """Write the notification of ``event`` (when it is worth one) to the terminal; whether it wrote."""
    mode = app.settings.notify
    notice = notice_for(event, run_name) if mode != OFF else None
    driver = app._driver
    if notice is None or driver is None:
        return False
    driver.write(escape_text(mode, notice.title, notice.body, os.environ))
    driver.flush()
    return True
