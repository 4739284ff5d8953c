"""The memory estimate at the start of a run's log, and the estimate and the measured peak in run.json.

``run.json``'s ``memory``: ``estimate`` (bytes by part, the machine's memory, whether it fits and the
first fix when it does not), ``measured`` (MLX's peak and the process's peak RSS, in bytes) and
``estimate_error`` (|estimate - MLX's peak| / MLX's peak).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from forgellm_tui.core.tokens import padded_width


def batch_width(longest: int, max_seq_length: int) -> int:
    """The width ``make_batch`` gives a batch whose longest row has ``longest`` tokens."""
    return padded_width(min(int(longest), max_seq_length), max_seq_length)


def widest(lengths: np.ndarray, max_seq_length: int) -> int | None:
    return batch_width(int(lengths.max()), max_seq_length) if len(lengths) else None


def announce_estimate(ctx) -> None:
    """Log the expected peak (and a warning with the first fix when it will not fit); keep it in run.json.

    MLX's peak count starts afresh here, so the measured peak is this run's own. An estimate that
    cannot be made (an unusual model layout) is a warning, never a reason not to train."""
    from forgellm_tui.core.memory import estimate_for, reset_peak

    cfg, lengths = ctx.cfg, ctx.train_data.lengths
    if cfg.is_preference:  # a batch of B pairs is 2B sequences as long as the longer answer
        cfg, lengths = replace(cfg, batch_size=2 * cfg.batch_size), lengths()
    try:
        est = estimate_for(cfg, ctx.plan.model_path, widest(lengths, cfg.max_seq_length), ctx.world.size)
    except Exception as exc:  # noqa: BLE001 - the estimate is advice; training goes on without it
        ctx.log("warning", f"no memory estimate ({type(exc).__name__}: {exc})")
        return
    for line in est.lines():
        ctx.log("warning" if line.startswith("⚠") else "info", line)
    if ctx.world.is_main:
        ctx.run.update(memory={"estimate": est.record()})
    reset_peak()


def record_peak(ctx) -> None:
    """MLX's peak and the process's peak RSS into run.json, next to the estimate (when MLX ran)."""
    if "mlx.core" not in sys.modules or not ctx.world.is_main:
        return
    from forgellm_tui.core.memory import measured_peak

    memory = dict(ctx.run.info.get("memory") or {})
    measured = measured_peak()
    memory["measured"] = measured
    total = (memory.get("estimate") or {}).get("total")
    if total and measured["mlx_peak"]:
        memory["estimate_error"] = round(abs(total - measured["mlx_peak"]) / measured["mlx_peak"], 4)
    ctx.run.update(memory=memory)
