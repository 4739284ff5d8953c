"""Facts about the MLX backend: device, which BLAS is in use, memory; the Linux OpenBLAS preload.

On Linux the ``mlx[cpu]`` wheel calls a bundled reference BLAS whose matrix products are ~40x slower
than OpenBLAS. When a system OpenBLAS ``libblas.so.3`` exists we re-execute the process once with it
in ``LD_PRELOAD`` (opt-out: ``FORGELLM_NO_BLAS_PRELOAD=1``). Nothing here imports MLX at module level.
"""

from __future__ import annotations

import glob
import os
import platform
import sys
from dataclasses import dataclass

NO_PRELOAD_VAR = "FORGELLM_NO_BLAS_PRELOAD"
MARK_VAR = "FORGELLM_BLAS_REEXEC"
INSTALL_HINT = "install OpenBLAS for ~40x faster CPU training: sudo apt-get install libopenblas0-pthread"

OPENBLAS_CANDIDATES = (
    "/usr/lib/{arch}-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/{arch}-linux-gnu/openblas-openmp/libblas.so.3",
    "/usr/lib/{arch}-linux-gnu/openblas-serial/libblas.so.3",
    "/usr/lib64/openblas-pthread/libblas.so.3",
)


def mlx_is_cpu_build() -> bool:
    """True when the installed MLX is the CPU-only wheel (``mlx[cpu]`` pulls in ``mlx-cpu``).

    Looks for the ``mlx_cpu-*.dist-info`` folder on ``sys.path`` itself: every start runs this before
    re-executing, and ``importlib.metadata`` alone takes longer to import than the whole search.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        if any(name.startswith("mlx_cpu-") and name.endswith(".dist-info") for name in names):
            return True
    return False


def find_openblas() -> str | None:
    """Path of a system OpenBLAS providing ``libblas.so.3``, or None."""
    arch = platform.machine() or "x86_64"
    for pattern in OPENBLAS_CANDIDATES:
        path = pattern.format(arch=arch)
        if os.path.exists(path):
            return path
    found = sorted(glob.glob("/usr/lib/*/openblas*/libblas.so.3"))
    return found[0] if found else None


def preload_applies(env: dict | os._Environ | None = None) -> bool:
    env = os.environ if env is None else env
    return sys.platform.startswith("linux") and not env.get(NO_PRELOAD_VAR) and mlx_is_cpu_build()


def blas_preload_env(env: dict | None = None) -> dict | None:
    """The environment to re-execute with, or None when no re-exec is needed or possible."""
    env = dict(os.environ if env is None else env)
    if env.get(MARK_VAR) or not preload_applies(env):
        return None
    lib = find_openblas()
    if lib is None:
        return None
    if lib in env.get("LD_PRELOAD", "").split(":"):
        return None
    env["LD_PRELOAD"] = ":".join(p for p in (lib, env.get("LD_PRELOAD", "")) if p)
    env[MARK_VAR] = "1"
    return env


def maybe_reexec_with_blas(argv: list[str] | None = None) -> None:
    """Re-execute this process once with OpenBLAS preloaded (Linux + CPU MLX + OpenBLAS present).

    ``argv`` defaults to the interpreter's original command line, so this works for the console
    script, ``python -m forgellm_tui`` and pytest alike. Returns normally when nothing is to be done.
    """
    env = blas_preload_env()
    if env is None:
        return
    if "mlx" in sys.modules or "mlx.core" in sys.modules:
        return  # too late: the reference BLAS is already mapped
    args = list(argv) if argv is not None else [sys.executable, *sys.orig_argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(args[0], args, env)
    except OSError:
        return  # could not re-exec: run on, slower


def active_blas() -> str:
    """Which BLAS this process uses, read from the loaded libraries (no MLX import)."""
    if sys.platform == "darwin":
        return "Accelerate"
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            maps = fh.read()
    except OSError:
        maps = ""
    preload = os.environ.get("LD_PRELOAD", "")
    if "openblas" in maps.lower() or "openblas" in preload.lower():
        return "OpenBLAS"
    if mlx_is_cpu_build():
        return "reference BLAS"
    return "unknown"


def blas_hint() -> str | None:
    """A one-line hint when we run on the slow reference BLAS and could do better."""
    if not sys.platform.startswith("linux") or not mlx_is_cpu_build():
        return None
    if active_blas() == "OpenBLAS":
        return None
    if os.environ.get(NO_PRELOAD_VAR):
        return f"OpenBLAS preload disabled by {NO_PRELOAD_VAR}: CPU matmuls use the slow reference BLAS"
    if find_openblas() is None:
        return INSTALL_HINT
    return None


@dataclass(frozen=True)
class DeviceInfo:
    device: str  # "cpu", "gpu (Metal)", "gpu (CUDA)"
    blas: str

    def label(self) -> str:
        if self.device == "cpu":
            return f"CPU · {self.blas}"
        return self.device


def device_info() -> DeviceInfo:
    """Device and BLAS in use. Imports ``mlx.core`` (cheap, no mlx_lm)."""
    import mlx.core as mx

    dev = mx.default_device()
    kind = "gpu" if dev.type == mx.DeviceType.gpu else "cpu"
    if kind == "gpu":
        if getattr(mx, "metal", None) is not None and mx.metal.is_available():
            name = "GPU (Metal)"
        else:
            name = "GPU (CUDA)"
        return DeviceInfo(name, active_blas())
    return DeviceInfo("cpu", active_blas())


def memory_gb() -> dict[str, float]:
    import mlx.core as mx

    return {
        "active": mx.get_active_memory() / 1e9,
        "peak": mx.get_peak_memory() / 1e9,
        "cache": mx.get_cache_memory() / 1e9,
    }


def clear_cache() -> None:
    import mlx.core as mx

    mx.clear_cache()


def shutdown_mlx() -> None:
    """Call before a process that ran MLX in a thread exits (mlx-lm pitfall 8: crash at exit)."""
    import gc

    gc.collect()
    if "mlx.core" in sys.modules:
        try:
            sys.modules["mlx.core"].synchronize()
        except Exception:
            pass
