"""What every benchmark does with its figures: the machine's load around the run, and the results file."""

from __future__ import annotations

import os
from pathlib import Path

from forgellm_tui.core import fsio


def load_average(before: tuple[float, float, float]) -> dict:
    """The 1/5/15-minute load averages at the start (``before``, from ``os.getloadavg()``) and now."""
    return {"before": [round(x, 2) for x in before], "after": [round(x, 2) for x in os.getloadavg()]}


def write_results(path: Path, result: dict) -> None:
    """``result`` as indented JSON at ``path``, written atomically, then say where."""
    fsio.atomic_write_json(path, result)
    print(f"wrote {path}")
