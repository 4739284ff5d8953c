"""The machine the engine runs on: MLX's device and memory, and the BLAS library under MLX's CPU backend.

- ``backend.py``: the MLX backend: device, BLAS in use, memory, the Linux OpenBLAS preload, MLX shutdown
- ``blas_cores.py``: the OpenBLAS kernel set to use when OpenBLAS does not recognise the CPU
- ``blas_probe.py``: which kernel set an OpenBLAS library runs with, and whether its sgemm is right here
- ``diagnostics.py``: what ``forgellm-tui doctor`` reports
- ``mlx_thread.py``: a long-lived thread that runs MLX work submitted from any thread (chat, evaluation lanes)

Callers use ``backend`` as a namespace (``from forgellm_tui.core.runtime import backend as runtime``):
it reads MLX lazily, so importing this package stays cheap. The other names are served on first use:
every process imports this package before it may re-execute itself with OpenBLAS preloaded, so what it
imports is paid twice at start.
"""

from __future__ import annotations

import importlib

from forgellm_tui.core.runtime import backend
from forgellm_tui.core.runtime.backend import shutdown_mlx

__all__ = ["CORE_VAR", "DETECTED_VAR", "MLXThread", "backend", "collect", "shutdown_mlx"]

_LAZY = {"CORE_VAR": "blas_cores", "DETECTED_VAR": "blas_cores", "MLXThread": "mlx_thread",
         "collect": "diagnostics"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
