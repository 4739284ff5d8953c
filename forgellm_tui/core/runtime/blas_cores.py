"""OpenBLAS kernel sets: use the best one the CPU supports when OpenBLAS does not recognise the CPU.

A ``DYNAMIC_ARCH`` OpenBLAS picks its kernels from the CPU model number. A build older than the
CPU (Debian's 0.3.21 on a current Xeon) does not know the model and falls back to its generic
SSE3 kernels ("Prescott"), ~5x slower than the AVX-512 ones the CPU runs fine. ``OPENBLAS_CORETYPE``
selects the kernels by name; we set it for the re-executed process when the flags in
``/proc/cpuinfo`` support a better set than the detected one, after a one-off sgemm check against a
float64 reference (cached per CPU and library build). ``OPENBLAS_CORETYPE`` or ``OPENBLAS_L2_SIZE``
already in the environment are left alone: platforms set them on purpose, because some OpenBLAS
builds compute wrong results on some CPUs. Standard library only; nothing here imports MLX.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

CORE_VAR = "OPENBLAS_CORETYPE"
#: variables that mean someone tuned OpenBLAS for this machine on purpose
GUARD_VARS = (CORE_VAR, "OPENBLAS_L2_SIZE")
#: set next to OPENBLAS_CORETYPE when forgellm-tui chose it: the core OpenBLAS detected itself
DETECTED_VAR = "FORGELLM_BLAS_DETECTED"
#: folder for the cached verdicts (default: ``$XDG_CACHE_HOME/forgellm-tui`` or ``~/.cache/forgellm-tui``)
CACHE_VAR = "FORGELLM_CACHE_DIR"
CACHE_FILE = "openblas-cores.json"
PROBE = Path(__file__).with_name("blas_probe.py")

#: kernel sets by the instructions they need: 2 = AVX-512, 1 = AVX2 + FMA, 0 = anything older
TIERS = {"skylakex": 2, "cooperlake": 2, "sapphirerapids": 2,
         "haswell": 1, "zen": 1, "dhyana": 1, "excavator": 1}
AMD_VENDORS = ("AuthenticAMD", "HygonGenuine")


@dataclass(frozen=True)
class CpuInfo:
    vendor: str
    family: str
    model: str
    name: str
    flags: frozenset

    def key(self) -> str:
        return f"{self.vendor}|{self.family}|{self.model}|{self.name}|{' '.join(sorted(self.flags))}"


def parse_cpuinfo(text: str) -> CpuInfo | None:
    """The first processor of a ``/proc/cpuinfo`` text (x86 field names), or None without flags."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    if "flags" not in fields:
        return None
    return CpuInfo(fields.get("vendor_id", ""), fields.get("cpu family", ""), fields.get("model", ""),
                   fields.get("model name", ""), frozenset(fields["flags"].split()))


def read_cpuinfo(path: str = "/proc/cpuinfo") -> CpuInfo | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return parse_cpuinfo(fh.read())
    except OSError:
        return None


def best_core(cpu: CpuInfo) -> str | None:
    """The fastest kernel set the CPU's flags support, or None when nothing beats the generic one."""
    if {"avx512f", "avx512bw", "avx512vl"} <= cpu.flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= cpu.flags:
        return "Zen" if cpu.vendor in AMD_VENDORS else "Haswell"
    return None


def choose_core(cpu: CpuInfo | None, detected: str | None, env: Mapping[str, str]) -> str | None:
    """The ``OPENBLAS_CORETYPE`` to set, or None to keep what OpenBLAS detected.

    Only when OpenBLAS detected a generic or older kernel set than the CPU supports, and nobody set
    ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` already.
    """
    if cpu is None or not detected or any(var in env for var in GUARD_VARS):
        return None
    best = best_core(cpu)
    if best is None or TIERS.get(detected.lower(), 0) >= TIERS[best.lower()]:
        return None
    return best


@dataclass(frozen=True)
class Verdict:
    """What was decided for one CPU and library build (cached as JSON)."""

    detected: str | None  # the kernel set OpenBLAS picks by itself
    candidate: str | None  # a better one the CPU supports, if any
    ok: bool  # the candidate runs and passed the sgemm check
    reason: str = ""  # why not, when it did not

    @property
    def chosen(self) -> str | None:
        return self.candidate if self.ok else None


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CACHE_VAR):
        return Path(env[CACHE_VAR]).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "forgellm-tui"


def library_key(lib: str) -> str:
    """The library build: the path and the size and time of every OpenBLAS file beside it."""
    real = os.path.realpath(lib)
    folder = os.path.dirname(real)
    parts = [lib]
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if "blas" in name:
            st = os.stat(os.path.join(folder, name))
            parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
    return "|".join(parts)


def cache_key(cpu: CpuInfo, lib: str) -> str:
    return hashlib.sha256(f"{cpu.key()}||{library_key(lib)}".encode()).hexdigest()[:24]


def _load_cache(env: Mapping[str, str]) -> dict:
    try:
        data = json.loads((cache_dir(env) / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(env: Mapping[str, str], key: str, verdict: Verdict) -> None:
    """Best effort: an unwritable cache only means the check runs again next time."""
    from forgellm_tui.core.fsio import atomic_write_json

    data = _load_cache(env)
    data[key] = asdict(verdict)
    try:
        cache_dir(env).mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache_dir(env) / CACHE_FILE, data)
    except Exception:
        pass


def cached_verdict(lib: str, env: Mapping[str, str] | None = None, cpu: CpuInfo | None = None) -> Verdict | None:
    env = os.environ if env is None else env
    cpu = cpu or read_cpuinfo()
    if cpu is None:
        return None
    entry = _load_cache(env).get(cache_key(cpu, lib))
    try:
        return Verdict(**entry) if isinstance(entry, dict) else None
    except TypeError:
        return None


def probe(lib: str, env: Mapping[str, str], core: str | None = None, timeout: float = 60) -> dict:
    """Run ``blas_probe.py`` on ``lib`` in a fresh process, with ``OPENBLAS_CORETYPE=core`` or unset."""
    import subprocess  # only on a cache miss: every start passes here

    child = {k: v for k, v in env.items() if k not in (CORE_VAR, DETECTED_VAR, "OPENBLAS_VERBOSE")}
    child["LD_PRELOAD"] = ":".join(p for p in child.get("LD_PRELOAD", "").split(":") if p and p != lib)
    if core:
        child[CORE_VAR] = core
    try:
        out = subprocess.run([sys.executable, str(PROBE), lib], env=child, capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"problem": f"probe did not run ({type(exc).__name__})", "transient": True}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"problem": f"probe failed (exit {out.returncode}): {tail[:200]}"}
    return json.loads(lines[-1])


def decide(lib: str, env: Mapping[str, str], cpu: CpuInfo) -> Verdict | None:
    """Probe the detected kernel set and, when the CPU supports a better one, check that one.

    None when a probe could not run at all (e.g. timed out on a busy machine): nothing to cache. A
    candidate that crashes the probe (an illegal instruction where the flags promised more) fails.
    """
    found = probe(lib, env)
    if "core" not in found:
        return None
    detected = found["core"]
    candidate = choose_core(cpu, detected, {})
    if candidate is None:
        return Verdict(detected, None, False, "")
    trial = probe(lib, env, candidate)
    if trial.get("transient"):
        return None
    if trial.get("problem"):
        return Verdict(detected, candidate, False, trial["problem"])
    if (trial.get("core") or "").lower() != candidate.lower():
        return Verdict(detected, candidate, False, f"OpenBLAS ran {trial.get('core')} when asked for {candidate}")
    error = trial.get("error")
    if error is None or not error <= 1.0:
        return Verdict(detected, candidate, False,
                       f"sgemm check failed: error {error:.3g}x the float32 bound" if error is not None
                       else "sgemm check failed: no result")
    return Verdict(detected, candidate, True, "")


def kernel_choice(lib: str, env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """``(core to set, the core OpenBLAS detected, a message to show once)`` for ``lib``.

    The verdict is cached per CPU and library build; the message is only returned when a candidate
    fails its check for the first time (later starts use the cached verdict silently).
    """
    cpu = read_cpuinfo()
    if cpu is None or best_core(cpu) is None or any(var in env for var in GUARD_VARS):
        return None, None, None
    verdict = cached_verdict(lib, env, cpu)
    message = None
    if verdict is None:
        verdict = decide(lib, env, cpu)
        if verdict is None:
            return None, None, None
        _store(env, cache_key(cpu, lib), verdict)
        if verdict.candidate and not verdict.ok:
            message = (f"OpenBLAS {verdict.candidate} kernels were not used ({verdict.reason}); "
                       f"keeping the detected {verdict.detected} kernels")
    return verdict.chosen, verdict.detected, message
