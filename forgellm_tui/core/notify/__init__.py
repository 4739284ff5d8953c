"""Terminal notifications when a run ends or recovers: the bell and desktop-notification escapes.

``notice_for(event, run_name)`` decides whether an engine event is worth a notice;
``escape_text(mode, title, body, env)`` builds what to write for it (``bell``/``osc``/``off``,
OSC 9 or OSC 777, wrapped for tmux). Writing it is the caller's: the app writes through Textual's
driver, headless ``train`` to its terminal.
"""

from forgellm_tui.core.notify.escapes import (BELL, DEFAULT_MODE, ENV_VAR, MODES, OFF, OSC, desktop_escape,
                                              escape_text, parse_mode, tmux_wrap, wants_osc777)
from forgellm_tui.core.notify.notices import Notice, notice_for

__all__ = ["BELL", "DEFAULT_MODE", "ENV_VAR", "MODES", "OFF", "OSC", "Notice", "desktop_escape", "escape_text",
           "notice_for", "parse_mode", "tmux_wrap", "wants_osc777"]
