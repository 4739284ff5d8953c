"""Open the full-screen app: ``forgellm-tui`` without a sub-command (the headless commands never import it)."""

from __future__ import annotations

from ..settings import Settings


def run(args) -> int:
    from forgellm_tui.core.runtime import backend as runtime
    from .app import ForgeApp

    app = ForgeApp(Settings.load(getattr(args, "workspace", None)))
    try:
        app.run()
    finally:
        runtime.shutdown_mlx()
    return int(app.return_code or 0)
