"""Before ``mlx.launch`` starts the ranks: find it, check every host, choose ports, build the command.

Everything here runs in the ``forgellm-tui train`` process on rank 0's machine and refuses bad
input (unreachable host, bad hostfile, batch size not divisible by the ranks, no ``mlx.launch``)
with one clear message before any training.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.runtime import CORE_VAR, DETECTED_VAR, backend as runtime
from forgellm_tui.core.config import DEFAULT_PORT, ConfigFieldError
from forgellm_tui.core.distributed.hosts import LAUNCHER_VAR, SSH_TIMEOUT, Host, HostError, configured_hosts

SSH_HINT = "set up SSH keys so that `ssh HOST true` works without a password (docs/distributed.md)"
#: mlx.launch's own main() with one change: it no longer polls the ranks' stdin for writability, which
#: never blocks and keeps a core busy for the whole run (nothing is ever sent to the ranks' stdin).
QUIET_LAUNCH = """
import select, sys
from mlx._distributed_utils import launch

def _select(r, w, x, timeout=None):
    readable, _, errors = select.select(r, [], x, timeout)
    return readable, [], errors

launch.select = _select
sys.argv[0] = "mlx.launch"
sys.exit(launch.main())
"""


@dataclass
class LaunchPlan:
    hosts: list[Host]
    ips: list[str]          # the address each rank's ring backend listens on
    backend: str
    launcher: str
    port: int

    @property
    def all_local(self) -> bool:
        return all(h.local for h in self.hosts)

    def hostfile(self) -> list[dict]:
        """mlx.launch's hostfile: this machine's ranks start without SSH (``127.0.0.1``)."""
        return [{"ssh": "127.0.0.1" if h.local else h.name, "ips": [ip]} for h, ip in zip(self.hosts, self.ips)]


def find_launcher() -> str:
    """``mlx.launch`` of this Python environment (``FORGELLM_MLX_LAUNCH`` overrides)."""
    override = os.environ.get(LAUNCHER_VAR)
    if override:
        if os.access(override, os.X_OK) and Path(override).is_file():
            return override
        raise HostError(f"mlx.launch not found at {override} ({LAUNCHER_VAR})",
                        hint=f"point {LAUNCHER_VAR} at mlx.launch, or unset it")
    sibling = Path(sys.executable).parent / "mlx.launch"
    if os.access(sibling, os.X_OK):
        return str(sibling)
    found = shutil.which("mlx.launch")
    if found:
        return found
    raise HostError("mlx.launch not found (it comes with MLX)",
                    hint="install MLX in this Python environment (pip install mlx) or set " + LAUNCHER_VAR)


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _resolve(host: Host) -> str:
    if host.ips:
        return host.ips[0]
    try:
        infos = socket.getaddrinfo(host.address, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        raise HostError(f"cannot resolve host {host.name!r} ({exc.strerror or exc})",
                        hint="check the name, or give its address in a hostfile: "
                             '[{"ssh": "NAME", "ips": ["ADDRESS"]}]') from None
    return infos[0][4][0]


def check_ssh(host: Host, python: str, workspace: str) -> str | None:
    """None when ``host`` answers over SSH and has this Python and workspace; else why not."""
    remote = f"test -x {shlex.quote(python)} || exit 41; test -d {shlex.quote(workspace)} || exit 42"
    # "--" ends ssh's options: the host can never be read as one (names starting with '-' are refused too)
    cmd = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={SSH_TIMEOUT}", "-o", "LogLevel=ERROR",
           "--", host.name, remote]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=SSH_TIMEOUT + 7,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return "ssh is not installed on this machine"
    except subprocess.TimeoutExpired:
        return f"no answer over SSH within {SSH_TIMEOUT + 7} s"
    if done.returncode == 41:
        return f"{python} does not exist there — use the same Python environment path on every machine"
    if done.returncode == 42:
        return f"the workspace {workspace} does not exist there — use the same paths on every machine"
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return "SSH failed" + (f" ({lines[-1].strip()})" if lines else f" (exit {done.returncode})")
    return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> int:
    """A first port with ``n`` free consecutive ports on 127.0.0.1 (for ranks on this machine)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n < 65000 and all(_port_free(base + i) for i in range(n)):
            return base
    return DEFAULT_PORT


def launch_plan(cfg, settings, python: str = sys.executable) -> LaunchPlan:
    """Check hosts, batch size and launcher; HostError/ConfigFieldError before any work."""
    section = cfg.distributed or {}
    hosts = configured_hosts(cfg, settings)
    where = section.get("hostfile") or "distributed.hosts"
    if len(hosts) < 2:
        raise HostError(f"{where} lists {len(hosts)} host; data-parallel training needs at least 2 ranks",
                        path=cfg.source, hint="list two or more hosts (the same one twice runs two ranks on it)")
    if cfg.batch_size % len(hosts):
        raise ConfigFieldError({"batch_size": f"{cfg.batch_size} is not divisible by the {len(hosts)} ranks in "
                                              f"{where} — use a multiple of {len(hosts)}"}, path=cfg.source)
    if not hosts[0].local:
        raise HostError(f"the first host ({hosts[0].name}) must be this machine ({socket.gethostname()}): "
                        "rank 0 writes the run folder here", path=cfg.source,
                        hint="list this machine first (or run the command on the first host)")
    backend = section.get("backend", "ring")
    launcher = find_launcher()
    if backend == "mpi" and shutil.which("mpirun") is None:
        raise HostError("backend mpi needs mpirun, which is not installed", path=cfg.source,
                        hint="install Open MPI on every machine, or use backend: ring")
    remote = [h for h in hosts if not h.local]
    if not remote:
        return LaunchPlan(hosts, ["127.0.0.1"] * len(hosts), backend, launcher, free_ports(len(hosts)))
    ips = [_resolve(h) for h in hosts]
    unique = list(dict.fromkeys(h.name for h in remote))
    with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
        problems = list(pool.map(lambda n: check_ssh(next(h for h in remote if h.name == n), python,
                                                     str(settings.workspace)), unique))
    for name, problem in zip(unique, problems):
        if problem:
            raise HostError(f"cannot reach host {name!r}: {problem}", path=cfg.source, hint=SSH_HINT)
    for host, ip in zip(hosts, ips):
        if _loopback(ip):
            raise HostError(f"host {host.name!r} is a loopback address ({ip}), which the other machines cannot "
                            "reach", path=cfg.source, hint="list this machine by its network name or address")
    return LaunchPlan(hosts, ips, backend, launcher, int(section.get("port", DEFAULT_PORT)))


def rank_env(plan: LaunchPlan) -> dict[str, str]:
    """Environment for the ranks (``mlx.launch --env``): OpenBLAS on this machine, and its kernel set.

    Not PYTHONUNBUFFERED: it makes ``print`` write text and newline separately, and mlx.launch then
    interleaves the ranks' output inside lines (our prints flush whole lines).
    """
    env: dict[str, str] = {}
    if not plan.all_local:
        return env  # each machine preloads its own BLAS (forgellm-tui re-executes itself)
    blas = runtime.blas_preload_env()
    preload = (blas or {}).get("LD_PRELOAD") or os.environ.get("LD_PRELOAD")
    if preload and runtime.preload_applies():
        env.update(LD_PRELOAD=preload, **{runtime.MARK_VAR: "1"})
        chosen = blas or os.environ  # the kernel set chosen for this machine's OpenBLAS, if any
        env.update({var: chosen[var] for var in (CORE_VAR, DETECTED_VAR) if var in chosen})
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        env["OPENBLAS_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // len(plan.hosts)))
    return env


def launcher_argv(launcher: str) -> list[str]:
    """How to run mlx.launch: its main() without the busy stdin poll when it is this environment's."""
    import importlib.util

    if os.environ.get(LAUNCHER_VAR) or Path(launcher).parent != Path(sys.executable).parent:
        return [launcher]
    try:
        found = importlib.util.find_spec("mlx._distributed_utils.launch") is not None
    except ImportError:
        found = False
    return [sys.executable, "-c", QUIET_LAUNCH] if found else [launcher]


def launch_command(plan: LaunchPlan, hostfile: Path, workspace: Path, child_args: list[str],
                   python: str = sys.executable) -> list[str]:
    """``mlx.launch --hostfile H --backend B [--starting-port P] --env K=V ... -- python -m forgellm_tui ...``."""
    cmd = [*launcher_argv(plan.launcher), "--hostfile", str(hostfile), "--backend", plan.backend]
    if plan.backend == "ring":
        cmd += ["--starting-port", str(plan.port)]
    for key, value in rank_env(plan).items():
        cmd += ["--env", f"{key}={value}"]
    return cmd + ["--", python, "-m", "forgellm_tui", "--workspace", str(workspace), "train", *child_args]
