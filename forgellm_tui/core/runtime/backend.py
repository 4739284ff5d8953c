"""Facts about the MLX backend: device, which BLAS is in use, memory; the Linux OpenBLAS preload.

On Linux the ``mlx[cpu]`` wheel calls a bundled reference BLAS whose matrix products are ~40x slower
than OpenBLAS. When a system OpenBLAS ``libblas.so.3`` exists we re-execute the process once with it
in ``LD_PRELOAD``, and with ``OPENBLAS_CORETYPE`` when that OpenBLAS does not recognise the CPU and
would run generic kernels (``blas_cores``). Opt-out of both: ``FORGELLM_NO_BLAS_PRELOAD=1``.
Nothing here imports MLX at module level.
"""

from __future__ import annotations

import glob
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def blas_preload_env(env: dict | None = None, kernels: bool = True) -> dict | None:
    """The environment to re-execute with, or None when no re-exec is needed or possible.

    ``kernels``: also choose the OpenBLAS kernel set (``choose_kernels``; may probe the library in
    a subprocess the first time on a CPU). False only asks whether a re-exec would happen.
    """
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
    if kernels:
        choose_kernels(env, lib)
    return env


def choose_kernels(env: dict, lib: str) -> None:
    """Set ``OPENBLAS_CORETYPE`` in ``env`` when ``lib`` would run older kernels than the CPU supports.

    Leaves an ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` already in ``env`` alone. A better kernel
    set that fails its correctness check is reported here once (the verdict is cached).
    """
    from forgellm_tui.core.runtime import blas_cores

    core, detected, message = blas_cores.kernel_choice(lib, env)
    if message:
        print(f"forgellm-tui: {message}", file=sys.stderr)
    if core:
        env[blas_cores.CORE_VAR] = core
        env[blas_cores.DETECTED_VAR] = detected or "unknown"


def maybe_reexec_with_blas(argv: list[str] | None = None) -> None:
    """Re-execute this process once with OpenBLAS preloaded (Linux + CPU MLX + OpenBLAS present).

    ``argv`` defaults to the interpreter's original command line, so this works for the console
    script, ``python -m forgellm_tui`` and pytest alike. Returns normally when nothing is to be done.
    """
    if "mlx" in sys.modules or "mlx.core" in sys.modules:
        return  # too late: the reference BLAS is already mapped
    env = blas_preload_env()
    if env is None:
        return
    args = list(argv) if argv is not None else [sys.executable, *sys.orig_argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(args[0], args, env)
    except OSError:
        return  # could not re-exec: run on, slower


def loaded_openblas() -> str | None:
    """Path of the system OpenBLAS mapped into this process, or None.

    NumPy's wheels map a private OpenBLAS (``libscipy_openblas64_``) that MLX never calls: not counted.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split()[-1] for line in fh if "/" in line}
    except OSError:
        return None
    found = [p for p in paths if "openblas" in p.lower() and "scipy_openblas" not in p.lower()]
    # the versioned library itself (libopenblasp-r0.3.21.so) rather than the libblas.so.3 in front of it
    found.sort(key=lambda p: ("openblas" not in os.path.basename(p).lower(), p))
    return found[0] if found else None


def active_blas() -> str:
    """Which BLAS this process uses, read from the loaded libraries (no MLX import)."""
    if sys.platform == "darwin":
        return "Accelerate"
    preload = os.environ.get("LD_PRELOAD", "")
    if loaded_openblas() or "openblas" in preload.lower():
        return "OpenBLAS"
    if mlx_is_cpu_build():
        return "reference BLAS"
    return "unknown"


def _openblas_function(name: str, restype):
    """``name`` from the OpenBLAS preloaded into this process, or None when there is none."""
    import ctypes

    try:
        func = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    func.restype = restype
    return func


def openblas_core() -> str | None:
    """The kernel set of the OpenBLAS in use (``openblas_get_corename``), e.g. ``SkylakeX``."""
    import ctypes

    func = _openblas_function("openblas_get_corename", ctypes.c_char_p) if active_blas() == "OpenBLAS" else None
    value = func() if func is not None else None
    return value.decode(errors="replace").strip() if value else None


def openblas_details() -> dict:
    """Build string and thread count of the OpenBLAS in use (empty when none is loaded)."""
    import ctypes

    if active_blas() != "OpenBLAS":
        return {}
    config = _openblas_function("openblas_get_config", ctypes.c_char_p)
    threads = _openblas_function("openblas_get_num_threads", ctypes.c_int)
    return {"config": (config().decode(errors="replace").strip() if config and config() else None),
            "threads": threads() if threads else None}


@contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """OpenBLAS runs each matrix product on ``count`` threads inside the block, on its previous count after.

    Nothing changes without OpenBLAS (the reference BLAS is single-threaded; Accelerate manages its own).
    """
    import ctypes

    get = _openblas_function("openblas_get_num_threads", ctypes.c_int) if active_blas() == "OpenBLAS" else None
    put = _openblas_function("openblas_set_num_threads", None) if get is not None else None
    if put is None:
        yield
        return
    before = int(get())
    put(max(1, int(count)))
    try:
        yield
    finally:
        put(before)


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
    core: str | None = None  # the OpenBLAS kernel set, e.g. "SkylakeX"

    def label(self) -> str:
        if self.device == "cpu":
            return f"CPU · {self.blas} ({self.core})" if self.core else f"CPU · {self.blas}"
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
    return DeviceInfo("cpu", active_blas(), openblas_core())


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
    """Call before a process that ran MLX in a thread exits: unsynchronised MLX work can crash it at exit."""
    import gc

    gc.collect()
    if "mlx.core" in sys.modules:
        try:
            sys.modules["mlx.core"].synchronize()
        except Exception:
            pass
