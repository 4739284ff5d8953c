"""How much memory this machine has: RAM on Linux (``/proc/meminfo``), unified memory on a Mac
(MLX's device info, imported only there), or what ``FORGELLM_MEMORY`` says."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

#: the memory to plan for, e.g. ``16G`` or ``12000M`` (a shared machine, or a smaller target machine)
MEMORY_VAR = "FORGELLM_MEMORY"
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class Machine:
    total: int          # bytes of RAM / unified memory
    available: int      # bytes a new process may use now
    source: str         # where the numbers come from, in words


def parse_size(text: str) -> int | None:
    """``"16G"`` -> bytes (K/M/G/T, powers of 1024; a bare number is bytes); None when unreadable."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in UNITS and text[-1:] else ""
    try:
        value = float(text[: len(text) - len(unit)])
    except ValueError:
        return None
    return int(value * UNITS[unit]) if value > 0 else None


def _meminfo() -> Machine | None:
    try:
        fields = dict(line.split(":", 1) for line in MEMINFO.read_text().splitlines() if ":" in line)
        total = int(fields["MemTotal"].split()[0]) * 1024
        available = int(fields.get("MemAvailable", fields["MemTotal"]).split()[0]) * 1024
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return Machine(total, available, "RAM")


def _unified() -> Machine | None:
    """A Mac: MLX's unified-memory size and the working set Metal recommends (imported only here)."""
    try:
        import mlx.core as mx

        info = mx.device_info() if hasattr(mx, "device_info") else mx.metal.device_info()
        total = int(info["memory_size"])
        usable = int(info.get("max_recommended_working_set_size", total))
    except Exception:  # noqa: BLE001 - no Metal device (or an MLX without device info): unknown
        return None
    return Machine(total, min(usable, total), "unified memory")


def machine_memory() -> Machine | None:
    """The memory a run can count on; None when it cannot be read (the estimate then says so)."""
    if (forced := os.environ.get(MEMORY_VAR)) and (size := parse_size(forced)) is not None:
        return Machine(size, size, f"({MEMORY_VAR}={forced})")
    if sys.platform == "darwin":
        return _unified()
    return _meminfo()
