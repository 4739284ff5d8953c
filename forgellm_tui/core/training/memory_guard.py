"""Refuse a training step that would not fit in memory, before MLX allocates it.

MLX's CPU backend does not report a failed allocation: its allocator hands back a null buffer and
the kernel writing into it crashes the process with SIGSEGV (``mx.set_memory_limit`` only makes
evaluation wait, it never raises). So the loop measures what a step needs (forward and backward
passes on a few short rows, extrapolated to the batch and its sequence length) and compares it with
what the process may still use: the address-space limit (``ulimit -v``), the cgroup's ``memory.max`` and
the free physical memory, whichever is smallest. A step that does not fit raises ``MemoryError``,
which the training engine answers like any out-of-memory error (halve the batch, resume).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

# Memory outside MLX's own buffers that a step also needs (Python objects, batches, allocator
# slack) and that the estimate does not see.
SLACK_FRACTION = 0.10
SLACK_MIN = 64 << 20

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Headroom:
    bytes: int          # what the process may still allocate
    limit: str          # which limit that is, in words


def headroom() -> Headroom | None:
    """The smallest of: address-space limit minus address space in use, cgroup limit minus cgroup
    usage, and available physical memory. None when none can be read."""
    found = [h for h in (_rlimit_headroom(), _cgroup_headroom(), _physical_headroom()) if h is not None]
    return min(found, key=lambda h: h.bytes) if found else None


def _rlimit_headroom() -> Headroom | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    import psutil

    used = psutil.Process().memory_info().vms
    return Headroom(max(soft - used, 0), f"address-space limit {_mb(soft)} (ulimit -v), {_mb(used)} in use")


def _cgroup_dirs() -> list[Path]:
    """This process's memory cgroup folders, innermost first (v2 unified, then v1 ``memory``)."""
    dirs: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return dirs
    for line in lines:
        _, controllers, rel = (line.split(":", 2) + ["", ""])[:3]
        base = CGROUP_ROOT if controllers == "" else CGROUP_ROOT / "memory"
        if controllers not in ("", "memory") and "memory" not in controllers.split(","):
            continue
        path = base / rel.lstrip("/")
        while True:  # a limit on an ancestor applies too; inside a container the own cgroup is the root
            dirs.append(path)
            if path == base:
                break
            path = path.parent
    return list(dict.fromkeys(dirs))


def _cgroup_headroom() -> Headroom | None:
    best = None
    for folder in _cgroup_dirs():
        for limit_name, usage_name in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            limit, usage = _read_int(folder / limit_name), _read_int(folder / usage_name)
            if limit is None or usage is None or limit >= 1 << 60:  # "max" / unlimited
                continue
            h = Headroom(max(limit - usage, 0), f"cgroup memory limit {_mb(limit)}, {_mb(usage)} in use")
            best = h if best is None or h.bytes < best.bytes else best
    return best


def _physical_headroom() -> Headroom | None:
    try:
        import psutil

        vm = psutil.virtual_memory()
    except Exception:  # noqa: BLE001 - an unreadable platform: no physical limit known
        return None
    return Headroom(int(vm.available), f"{_mb(vm.available)} of physical memory available")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _mb(n: int | float) -> str:
    return f"{n / 2**20:,.0f} MiB"


PROBE_WIDTH = 128  # tokens per probe row at most: the probes themselves must fit


def step_bytes(measure, rows: int, width: int) -> int:
    """Peak bytes of one forward/backward pass on ``rows`` rows of ``width`` tokens.

    ``measure(rows, width)`` runs a real pass and returns its peak above what is held. The cost is
    modelled as ``fixed + rows * (a * width + b * width**2)`` (activations grow with the tokens,
    attention scores with their square) and fitted from small passes: one and two rows of
    ``w = min(width, PROBE_WIDTH)`` tokens, and one row of ``2w`` when the batch is wider, so that a
    sequence too long even for one row is refused without allocating it.
    """
    w = max(min(width, PROBE_WIDTH), 2)
    if rows <= 2 and width <= w:  # small enough to measure as it is
        return measure(rows, width)
    one, two = measure(1, w), measure(2, w)
    row_w = max(two - one, 0)
    fixed = max(one - row_w, 0)
    if width <= w:
        return int(fixed + rows * row_w)
    row_2w = max(measure(1, 2 * w) - fixed, 0)
    quad = max((row_2w - 2 * row_w) / (2 * w * w), 0.0)
    lin = max((row_w - quad * w * w) / w, 0.0)
    return int(fixed + rows * (lin * width + quad * width * width))


def check_step_fits(measure, rows: int, width: int, extra: int = 0) -> int | None:
    """Raise ``MemoryError`` when a step on ``rows`` x ``width`` tokens (plus ``extra`` bytes) would
    not fit; returns the estimate."""
    room = headroom()
    if room is None:
        return None
    need = step_bytes(measure, rows, width) + extra
    slack = max(SLACK_MIN, int(need * SLACK_FRACTION))
    if need + slack > room.bytes:
        raise MemoryError(f"out of memory: a step on {rows} x {width} tokens needs about {_mb(need)} "
                          f"(+{_mb(slack)} slack), only {_mb(room.bytes)} left ({room.limit})")
    return need


def measure_pass(model, loss_and_grad, inputs: tuple) -> int:
    """Peak bytes MLX allocates for one forward/backward pass on ``inputs`` (the objective's probe of a
    full batch: token 0 everywhere, as the memory does not depend on the values), above what it holds now."""
    import mlx.core as mx

    mx.synchronize()
    held = mx.get_active_memory()
    mx.reset_peak_memory()
    value, grad = loss_and_grad(model, *inputs)
    mx.eval(value, grad)
    peak = mx.get_peak_memory()
    del value, grad
    return max(peak - held, 0)
