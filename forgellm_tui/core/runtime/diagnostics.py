"""What ``forgellm-tui doctor`` reports: device, BLAS library and kernel set, threads, versions.

Read in the process that trains (after the OpenBLAS re-exec), so it shows what training gets.
Imports ``mlx.core`` (for the device), never mlx_lm.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Mapping

from forgellm_tui.core.runtime import blas_cores
from forgellm_tui.core.runtime import backend as runtime


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def kernel_note(core: str | None, env: Mapping[str, str], cpu: blas_cores.CpuInfo | None,
                verdict: blas_cores.Verdict | None) -> str:
    """Why this kernel set: chosen by us, set by the user, or OpenBLAS's own choice (and whether it is the best)."""
    if core is None:
        return ""
    if env.get(blas_cores.DETECTED_VAR) and env.get(blas_cores.CORE_VAR, "").lower() == core.lower():
        return f"chosen by forgellm-tui: OpenBLAS detected {env[blas_cores.DETECTED_VAR]}; sgemm check passed"
    if blas_cores.CORE_VAR in env or "OPENBLAS_L2_SIZE" in env:
        names = ", ".join(f"{v}={env[v]}" for v in blas_cores.GUARD_VARS if v in env)
        return f"{names} set in the environment: left alone"
    if verdict is not None and verdict.candidate and not verdict.ok:
        return f"detected by OpenBLAS; {verdict.candidate} not used: {verdict.reason}"
    best = blas_cores.best_core(cpu) if cpu else None
    if best and blas_cores.TIERS.get(core.lower(), 0) >= blas_cores.TIERS[best.lower()]:
        return "detected by OpenBLAS; the best set this CPU supports"
    return "detected by OpenBLAS"


def collect(env: Mapping[str, str] | None = None) -> dict:
    """Everything ``doctor`` prints, as plain values (JSON-ready)."""
    env = os.environ if env is None else env
    try:
        info = runtime.device_info()
        device, blas, core = info.label(), info.blas, info.core
    except Exception as exc:  # MLX missing or broken: say so instead of failing
        device, blas, core = f"unknown ({type(exc).__name__}: {exc})", runtime.active_blas(), None
    cpu = blas_cores.read_cpuinfo()
    lib = runtime.find_openblas()
    verdict = blas_cores.cached_verdict(lib, env, cpu) if lib and cpu else None
    details = runtime.openblas_details()
    return {
        "device": device,
        "blas": blas,
        "blas_library": runtime.loaded_openblas() if blas == "OpenBLAS" else None,
        "blas_config": details.get("config"),
        "kernel_set": core,
        "kernel_note": kernel_note(core, env, cpu, verdict),
        "cpu": (cpu.name or platform.processor() or platform.machine()) if cpu else platform.machine(),
        "cpu_best_kernel_set": blas_cores.best_core(cpu) if cpu else None,
        "blas_threads": details.get("threads"),
        "cpu_cores": os.cpu_count(),
        "openblas_num_threads": env.get("OPENBLAS_NUM_THREADS"),
        "preload_disabled": bool(env.get(runtime.NO_PRELOAD_VAR)),
        "hint": runtime.blas_hint(),
        "mlx": _version("mlx"),
        "mlx_cpu": _version("mlx-cpu"),
        "mlx_lm": _version("mlx-lm"),
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
    }
