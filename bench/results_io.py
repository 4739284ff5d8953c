"""What every benchmark does with its figures: the machine's load around the run, and the results file."""

from __future__ import annotations

import json
import os
from pathlib import Path


def load_average(before: tuple[float, float, float]) -> dict:
    """The 1/5/15-minute load averages at the start (``before``, from ``os.getloadavg()``) and now."""
    return {"before": [round(x, 2) for x in before], "after": [round(x, 2) for x in os.getloadavg()]}


def write_results(path: Path, result: dict) -> None:
    """``result`` as indented JSON at ``path`` (written whole: a temp file renamed over it), then say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(temp, path)
    print(f"wrote {path}")
