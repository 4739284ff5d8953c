"""Headless sub-commands of ``forgellm-tui``; each is a thin layer over ``forgellm_tui.core``."""

from __future__ import annotations

from ..settings import Settings


def settings_from(args) -> Settings:
    return Settings.load(getattr(args, "workspace", None))
