"""Memory a training run will need, known before it starts.

- ``shape.py``: a model's sizes from ``config.json`` and its safetensors headers (no weight is read)
- ``estimate.py``: the expected peak of a step, by part (weights, trained parameters, gradients,
  optimizer state, activations, loss logits), calibrated on MLX's CPU backend
- ``machine.py``: the memory this machine has (RAM on Linux, unified memory on a Mac)
- ``advice.py``: the first config change that makes a run fit, found by estimating again
- ``measured.py``: the peak a run really used (MLX's peak and the process's peak RSS)

Nothing here imports MLX except ``machine.py`` on a Mac and ``measured.py``, inside functions.
"""

from __future__ import annotations

from pathlib import Path

from forgellm_tui.core.memory.advice import first_fix
from forgellm_tui.core.memory.estimate import MemoryEstimate, estimate_memory, gib, with_machine
from forgellm_tui.core.memory.machine import MEMORY_VAR, Machine, machine_memory, parse_size
from forgellm_tui.core.memory.measured import measured_peak, reset_peak
from forgellm_tui.core.memory.shape import ModelShape, read_model_shape


def estimate_for(cfg, model_path: Path, tokens: int | None = None, world_size: int = 1,
                 machine: Machine | None = None) -> MemoryEstimate:
    """The estimate of ``cfg`` on the model in ``model_path``, next to this machine's memory (or
    ``machine``), with the first change that makes it fit when it does not."""
    shape = read_model_shape(model_path)
    machine = machine or machine_memory()
    est = estimate_memory(cfg, shape, tokens, world_size)
    advice = None
    if machine is not None and est.total > machine.available:
        advice = first_fix(cfg, shape.layers, lambda c: estimate_memory(c, shape, tokens, world_size).total,
                           machine.available)
    return with_machine(est, machine, advice)


__all__ = ["MEMORY_VAR", "Machine", "MemoryEstimate", "ModelShape", "estimate_for", "estimate_memory", "first_fix",
           "gib", "machine_memory", "measured_peak", "parse_size", "read_model_shape", "reset_peak"]
