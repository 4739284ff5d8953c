"""``forgellm-tui doctor``: what a training run gets here (device, BLAS, kernel set, threads, versions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

from forgellm_tui.core.runtime import blas_cores
from forgellm_tui.core.runtime import backend as runtime

linux_openblas = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and runtime.mlx_is_cpu_build() and runtime.find_openblas()),
    reason="needs Linux, the mlx[cpu] wheel and a system OpenBLAS",
)


def doctor(tmp_path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """Run the command as a user would: a fresh process that re-executes itself with OpenBLAS."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", runtime.MARK_VAR, blas_cores.DETECTED_VAR, *blas_cores.GUARD_VARS)}
    env.update({blas_cores.CACHE_VAR: str(tmp_path / "cache")}, **extra)
    out = subprocess.run([sys.executable, "-m", "forgellm_tui", "doctor", *args], capture_output=True, text=True,
                         env=env, timeout=180)
    assert out.returncode == 0, out.stderr[-800:]
    return out


def rows(text: str) -> dict[str, str]:
    return {line[:14].strip(): line[14:].strip() for line in text.splitlines() if line.strip()}


def test_doctor_names_device_blas_kernels_threads_and_versions(tmp_path):
    out = rows(doctor(tmp_path).stdout)
    assert {"device", "BLAS library", "kernel set", "threads", "CPU", "MLX", "mlx-lm"} <= set(out)
    assert out["MLX"].startswith(metadata.version("mlx"))
    assert out["mlx-lm"] == metadata.version("mlx-lm")
    assert f"{os.cpu_count()} CPU cores" in out["threads"]


@linux_openblas
def test_doctor_shows_the_openblas_kernel_set_in_use(tmp_path):
    data = json.loads(doctor(tmp_path, "--json").stdout)
    assert data["blas"] == "OpenBLAS" and data["kernel_set"]
    assert data["device"] == f"CPU · OpenBLAS ({data['kernel_set']})"
    assert "openblas" in data["blas_library"].lower() and data["blas_config"].startswith("OpenBLAS")
    assert data["blas_threads"] >= 1
    assert data["kernel_note"]  # why this set: detected, chosen or set by the user


@linux_openblas
def test_doctor_reports_a_preset_coretype_and_the_opt_out(tmp_path):
    if blas_cores.best_core(blas_cores.read_cpuinfo()) is None:
        pytest.skip("no AVX2: OpenBLAS would not run Haswell kernels here")
    out = rows(doctor(tmp_path, OPENBLAS_CORETYPE="Haswell").stdout)
    assert out["kernel set"] == "Haswell (OPENBLAS_CORETYPE=Haswell set in the environment: left alone)"
    out = rows(doctor(tmp_path, FORGELLM_NO_BLAS_PRELOAD="1").stdout)
    assert out["device"] == "CPU · reference BLAS" and out["kernel set"] == "-"
    assert "FORGELLM_NO_BLAS_PRELOAD" in out["note"]
