"""Linux CPU speed: OpenBLAS preload gives the same numbers; detection and opt-out work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from forgellm_tui.core.runtime import backend as runtime

MATMUL = (
    "import json, sys, mlx.core as mx\n"
    "from forgellm_tui.core.runtime.backend import active_blas\n"
    "mx.random.seed(3)\n"
    "a = mx.random.normal((300, 200)); b = mx.random.normal((200, 250))\n"
    "c = a @ b; mx.eval(c)\n"
    "print(json.dumps({'blas': active_blas(), 'c': c.tolist()}))\n"
)

linux_cpu = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and runtime.mlx_is_cpu_build() and runtime.find_openblas()),
    reason="needs Linux, the mlx[cpu] wheel and a system OpenBLAS",
)


def _run(env_changes: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", runtime.MARK_VAR)}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", MATMUL], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@linux_cpu
def test_openblas_matmul_matches_reference_blas():
    plain = _run({})
    fast = _run({"LD_PRELOAD": runtime.find_openblas()})
    assert plain["blas"] == "reference BLAS"
    assert fast["blas"] == "OpenBLAS"
    np.testing.assert_allclose(np.array(fast["c"]), np.array(plain["c"]), rtol=1e-4, atol=1e-4)


@linux_cpu
def test_cli_reexecs_with_openblas_and_respects_opt_out():
    code = ("import os; from forgellm_tui.core.runtime import backend as runtime; runtime.maybe_reexec_with_blas(); "
            "print(runtime.active_blas(), os.environ.get('LD_PRELOAD', ''))")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", runtime.MARK_VAR)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.startswith("OpenBLAS"), out.stdout + out.stderr
    env[runtime.NO_PRELOAD_VAR] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.startswith("reference BLAS"), out.stdout + out.stderr


def test_no_reexec_when_opted_out_or_already_done():
    assert runtime.blas_preload_env({runtime.NO_PRELOAD_VAR: "1"}) is None
    assert runtime.blas_preload_env({runtime.MARK_VAR: "1"}) is None


def test_hint_names_the_package_when_openblas_is_missing(monkeypatch):
    monkeypatch.setattr(runtime, "find_openblas", lambda: None)
    monkeypatch.setattr(runtime, "active_blas", lambda: "reference BLAS")
    monkeypatch.setattr(runtime, "mlx_is_cpu_build", lambda: True)
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.delenv(runtime.NO_PRELOAD_VAR, raising=False)
    assert "libopenblas0-pthread" in runtime.blas_hint()


def test_device_info_names_device_and_blas():
    info = runtime.device_info()
    assert info.device in ("cpu", "GPU (Metal)", "GPU (CUDA)")
    assert info.blas in ("OpenBLAS", "reference BLAS", "Accelerate", "unknown")
    assert info.label()
    if info.device == "cpu" and info.blas == "OpenBLAS":  # the kernel set in use, e.g. CPU · OpenBLAS (SkylakeX)
        assert info.core and info.label() == f"CPU · OpenBLAS ({info.core})"


def test_numpys_private_openblas_is_not_mistaken_for_the_preload():
    code = ("import numpy, mlx.core; from forgellm_tui.core.runtime import backend as runtime; "
            "print(runtime.active_blas(), runtime.device_info().label())")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", runtime.MARK_VAR)}
    env[runtime.NO_PRELOAD_VAR] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr[-800:]
    if runtime.mlx_is_cpu_build():
        assert out.stdout.strip() == "reference BLAS CPU · reference BLAS"
