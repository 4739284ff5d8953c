"""The machine the engine runs on: MLX's device and memory, and the BLAS library under MLX's CPU backend.

- ``backend.py``: the MLX backend: device, BLAS in use, memory, the Linux OpenBLAS preload, MLX shutdown
- ``blas_cores.py``: the OpenBLAS kernel set to use when OpenBLAS does not recognise the CPU
- ``blas_probe.py``: which kernel set an OpenBLAS library runs with, and whether its sgemm is right here
- ``diagnostics.py``: what ``forgellm-tui doctor`` reports

Callers use ``backend`` as a namespace (``from forgellm_tui.core.runtime import backend as runtime``):
it reads MLX lazily, so importing this package stays cheap.
"""

from __future__ import annotations

from forgellm_tui.core.runtime import backend
from forgellm_tui.core.runtime.backend import shutdown_mlx
from forgellm_tui.core.runtime.blas_cores import CORE_VAR, DETECTED_VAR
from forgellm_tui.core.runtime.diagnostics import collect

__all__ = ["CORE_VAR", "DETECTED_VAR", "backend", "collect", "shutdown_mlx"]
