"""Open the full-screen app (the default when no sub-command is given)."""

from __future__ import annotations

from . import settings_from


def run(args) -> int:
    from forgellm_tui.core.runtime import backend as runtime
    from ..tui.app import ForgeApp

    app = ForgeApp(settings_from(args))
    try:
        app.run()
    finally:
        runtime.shutdown_mlx()
    return int(app.return_code or 0)
