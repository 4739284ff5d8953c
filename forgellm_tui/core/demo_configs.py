"""Demo training configs and prepared data for the demo workspace (filled in by the engine work)."""

from __future__ import annotations

from pathlib import Path


def write_demo_configs(folder: Path, progress) -> None:
    progress("configs: pending")


def prepare_demo_data(folder: Path, progress) -> None:
    progress("data: pending")
