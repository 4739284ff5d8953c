"""Publishing a checkpoint as a standalone model in ``published/<name>/``.

- ``fuse.py``: fuse the adapters into the base model, write the folder atomically, check name and disk space
- ``card.py``: the model card (README.md) and ``metadata.json``
- ``dashboard.py``: ``dashboard.png``, the run's training curves drawn with matplotlib (headless)
"""

from __future__ import annotations

from forgellm_tui.core.publish.dashboard import render_dashboard
from forgellm_tui.core.publish.fuse import PublishResult, check_name, default_name, free_bytes, publish

__all__ = ["PublishResult", "check_name", "default_name", "free_bytes", "publish", "render_dashboard"]
