"""OpenBLAS kernel sets: the choice, the correctness check and its cached verdict, the re-executed child."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forgellm_tui.core.runtime import blas_cores
from forgellm_tui.core.runtime import blas_probe
from forgellm_tui.core.runtime import backend as runtime

FIXTURES = Path(__file__).parents[1] / "fixtures"

#: this kind of machine: a current Xeon (AVX-512), recorded from /proc/cpuinfo
XEON = (FIXTURES / "cpuinfo" / "xeon-avx512.txt").read_text()
#: first-processor blocks of older CPUs, abridged to the fields the choice reads
HASWELL = ("vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 63\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v3\n"
           "flags\t\t: fpu sse sse2 ssse3 fma cx16 sse4_1 sse4_2 popcnt aes xsave avx f16c rdrand bmi1 avx2 bmi2\n\n"
           "processor\t: 1\n")
ZEN2 = ("vendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC 7702 64-Core Processor\n"
        "flags\t\t: fpu sse sse2 ssse3 fma cx16 sse4_1 sse4_2 popcnt aes xsave avx f16c rdrand bmi1 avx2 bmi2 sha_ni\n")
CORE2 = ("vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 23\nmodel name\t: Intel(R) Core(TM)2 Duo CPU E8400\n"
         "flags\t\t: fpu sse sse2 ssse3 cx16 sse4_1\n")
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\nCPU implementer\t: 0x41\n"

linux_openblas = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and runtime.mlx_is_cpu_build() and runtime.find_openblas()),
    reason="needs Linux, the mlx[cpu] wheel and a system OpenBLAS",
)


def cpu(text: str) -> blas_cores.CpuInfo:
    info = blas_cores.parse_cpuinfo(text)
    assert info is not None
    return info


# --------------------------------------------------------------------------- the choice

def test_unrecognised_avx512_cpu_gets_skylakex_kernels():
    assert blas_cores.choose_core(cpu(XEON), "Prescott", {}) == "SkylakeX"


def test_a_kernel_set_as_good_as_the_cpu_allows_is_kept():
    assert blas_cores.choose_core(cpu(HASWELL), "Haswell", {}) is None
    assert blas_cores.choose_core(cpu(ZEN2), "Zen", {}) is None
    assert blas_cores.choose_core(cpu(XEON), "SkylakeX", {}) is None
    assert blas_cores.choose_core(cpu(XEON), "Cooperlake", {}) is None


def test_older_kernels_are_raised_to_what_the_flags_support():
    assert blas_cores.choose_core(cpu(HASWELL), "Prescott", {}) == "Haswell"
    assert blas_cores.choose_core(cpu(ZEN2), "Prescott", {}) == "Zen"
    assert blas_cores.choose_core(cpu(XEON), "Haswell", {}) == "SkylakeX"


def test_preset_variables_are_never_overridden():
    for env in ({"OPENBLAS_CORETYPE": "Haswell"}, {"OPENBLAS_CORETYPE": ""}, {"OPENBLAS_L2_SIZE": "1048576"}):
        assert blas_cores.choose_core(cpu(XEON), "Prescott", env) is None


def test_nothing_to_choose_without_better_flags_or_x86_flags():
    assert blas_cores.choose_core(cpu(CORE2), "Prescott", {}) is None
    assert blas_cores.parse_cpuinfo(ARM) is None
    assert blas_cores.choose_core(None, "ARMV8", {}) is None


# --------------------------------------------------------------------------- the correctness check

def test_sgemm_check_accepts_a_right_result_and_rejects_wrong_ones():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((70, 50), dtype=np.float32)
    b = rng.standard_normal((50, 40), dtype=np.float32)
    right = a @ b
    assert blas_probe.sgemm_error(a, b, right) <= 1.0
    off_by_a_little = right.copy()
    off_by_a_little[5, 7] += 1e-3 * abs(right[5, 7]) + 1e-3
    assert blas_probe.sgemm_error(a, b, off_by_a_little) > 1.0
    assert blas_probe.sgemm_error(a, b, a[:, :-1] @ b[:-1]) > 1.0  # a kernel that drops the last k term
    assert not blas_probe.sgemm_error(a, b, np.full_like(right, np.nan)) <= 1.0  # untouched output


@pytest.fixture
def xeon_like(monkeypatch, tmp_path):
    """This process sees the recorded Xeon; verdicts go to a cache folder of this test only."""
    monkeypatch.setattr(blas_cores, "read_cpuinfo", lambda path="/proc/cpuinfo": cpu(XEON))
    env = {blas_cores.CACHE_VAR: str(tmp_path / "cache")}
    return env


def fake_probe(calls: list, detected: str, error: float):
    """An OpenBLAS that detects ``detected`` and whose other kernel sets compute with ``error``."""
    def probe(lib, env, core=None, timeout=60):
        calls.append(core)
        return {"core": core or detected, "config": "test", "error": 0.1 if core is None else error}
    return probe


def test_a_failed_check_keeps_the_detected_kernels_and_says_so_once(xeon_like, monkeypatch, capsys):
    calls: list = []
    monkeypatch.setattr(blas_cores, "probe", fake_probe(calls, "Prescott", error=7.5))
    env = dict(xeon_like)
    runtime.choose_kernels(env, "/nonexistent/libblas.so.3")
    assert "OPENBLAS_CORETYPE" not in env
    first = capsys.readouterr().err
    assert "SkylakeX kernels were not used" in first and "keeping the detected Prescott" in first
    runtime.choose_kernels(env, "/nonexistent/libblas.so.3")  # cached verdict: no probe, no message
    assert "OPENBLAS_CORETYPE" not in env
    assert capsys.readouterr().err == ""
    assert calls == [None, "SkylakeX"]


def test_a_passed_check_is_cached_and_sets_the_variable(xeon_like, monkeypatch):
    calls: list = []
    monkeypatch.setattr(blas_cores, "probe", fake_probe(calls, "Prescott", error=0.2))
    for _ in range(2):
        env = dict(xeon_like)
        runtime.choose_kernels(env, "/nonexistent/libblas.so.3")
        assert env["OPENBLAS_CORETYPE"] == "SkylakeX" and env[blas_cores.DETECTED_VAR] == "Prescott"
    assert calls == [None, "SkylakeX"]  # probed once, then from the cache


def test_preset_coretype_is_left_alone_without_probing(xeon_like, monkeypatch):
    calls: list = []
    monkeypatch.setattr(blas_cores, "probe", fake_probe(calls, "Prescott", error=0.2))
    env = {**xeon_like, "OPENBLAS_CORETYPE": "Haswell"}
    runtime.choose_kernels(env, "/nonexistent/libblas.so.3")
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and calls == []


def test_a_candidate_that_crashes_is_rejected(xeon_like, monkeypatch, capsys):
    def probe(lib, env, core=None, timeout=60):
        return {"problem": "probe failed (exit -4): Illegal instruction"} if core else {"core": "Prescott"}
    monkeypatch.setattr(blas_cores, "probe", probe)
    env = dict(xeon_like)
    runtime.choose_kernels(env, "/nonexistent/libblas.so.3")
    assert "OPENBLAS_CORETYPE" not in env and "Illegal instruction" in capsys.readouterr().err


def test_a_probe_that_cannot_run_is_not_cached(xeon_like, monkeypatch):
    monkeypatch.setattr(blas_cores, "probe",
                        lambda lib, env, core=None, timeout=60: {"problem": "timed out", "transient": True})
    env = dict(xeon_like)
    runtime.choose_kernels(env, "/nonexistent/libblas.so.3")
    assert "OPENBLAS_CORETYPE" not in env
    assert not (blas_cores.cache_dir(env) / blas_cores.CACHE_FILE).exists()


# --------------------------------------------------------------------------- the real library

@linux_openblas
def test_probe_reads_the_core_and_passes_the_check_on_this_machine():
    env = {k: v for k, v in os.environ.items() if k not in blas_cores.GUARD_VARS}
    found = blas_cores.probe(runtime.find_openblas(), env)
    assert found["core"] and "OpenBLAS" in found["config"]
    assert found["error"] <= 1.0
    if blas_cores.best_core(blas_cores.read_cpuinfo()):  # any x86-64 with AVX2: ask for Haswell by name
        assert blas_cores.probe(runtime.find_openblas(), env, "Haswell")["core"] == "Haswell"


REEXEC = """
import json, os
from forgellm_tui.core.runtime import blas_cores
from forgellm_tui.core.runtime import backend as runtime
if {fake!r} and not os.environ.get(runtime.MARK_VAR):
    real = blas_cores.probe
    def probe(lib, env, core=None, timeout=60):  # OpenBLAS as a build that does not know this CPU sees it
        found = real(lib, env, core, timeout)
        return found if core else dict(found, core="Prescott")
    blas_cores.probe = probe
runtime.maybe_reexec_with_blas()
print(json.dumps({{"var": os.environ.get("OPENBLAS_CORETYPE"), "core": runtime.openblas_core(),
                  "detected": os.environ.get(blas_cores.DETECTED_VAR)}}))
"""


def reexec(tmp_path, fake: bool, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", runtime.MARK_VAR, blas_cores.DETECTED_VAR, *blas_cores.GUARD_VARS)}
    env.update({blas_cores.CACHE_VAR: str(tmp_path / "cache")}, **extra)
    out = subprocess.run([sys.executable, "-c", REEXEC.format(fake=fake)], capture_output=True, text=True,
                         env=env, timeout=180)
    assert out.returncode == 0, out.stderr[-800:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@linux_openblas
def test_reexecuted_child_runs_the_chosen_kernels_when_openblas_detects_generic_ones(tmp_path):
    best = blas_cores.best_core(blas_cores.read_cpuinfo())
    if best is None:
        pytest.skip("this CPU has no AVX2: the generic kernels are the best")
    child = reexec(tmp_path, fake=True)
    assert child == {"var": best, "core": best, "detected": "Prescott"}


@linux_openblas
def test_reexecuted_child_runs_the_best_kernels_this_cpu_supports(tmp_path):
    best = blas_cores.best_core(blas_cores.read_cpuinfo())
    child = reexec(tmp_path, fake=False)
    assert child["core"]
    if best is not None:
        assert blas_cores.TIERS.get(child["core"].lower(), 0) >= blas_cores.TIERS[best.lower()], child


@linux_openblas
def test_opt_out_and_preset_coretype_turn_the_choice_off(tmp_path):
    assert reexec(tmp_path, fake=True, FORGELLM_NO_BLAS_PRELOAD="1") == {"var": None, "core": None,
                                                                         "detected": None}
    if blas_cores.best_core(blas_cores.read_cpuinfo()) is None:
        return  # no AVX2: OpenBLAS would not run Haswell kernels here
    child = reexec(tmp_path, fake=True, OPENBLAS_CORETYPE="Haswell")
    assert child == {"var": "Haswell", "core": "Haswell", "detected": None}


@linux_openblas
def test_local_distributed_ranks_get_the_chosen_kernels(monkeypatch):
    from forgellm_tui.core.distributed.hosts import Host
    from forgellm_tui.core.distributed.launch import LaunchPlan, rank_env

    # this process as the app after its re-exec with a kernel set chosen for an unrecognised CPU
    monkeypatch.setenv("LD_PRELOAD", runtime.find_openblas())
    monkeypatch.setenv(runtime.MARK_VAR, "1")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    monkeypatch.setenv(blas_cores.DETECTED_VAR, "Prescott")
    hosts = [Host("localhost", (), True), Host("localhost", (), True)]
    env = rank_env(LaunchPlan(hosts, ["127.0.0.1"] * 2, "ring", "mlx.launch", 5000))
    assert env["OPENBLAS_CORETYPE"] == "SkylakeX" and env[blas_cores.DETECTED_VAR] == "Prescott"
    assert env["LD_PRELOAD"] == runtime.find_openblas()
