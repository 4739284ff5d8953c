"""The hosts of a config's ``distributed:`` section, and the checks made before ``mlx.launch`` starts.

The section itself (``{hosts: [mac1, mac2] | hostfile: PATH, backend: ring|mpi, port: 32323}``) is
checked with the rest of the config (``core.config.distributed_section``). One host entry is one
rank (list a machine twice for two ranks on it; ``127.0.0.1``/``localhost`` entries run on this
machine without SSH). A hostfile is JSON: a list of names, or mlx.launch's format
(``[{"ssh": "mac2", "ips": ["10.0.0.2"]}]``, optionally inside ``{"hosts": [...]}``). Rank 0 is
the first host and must be this machine: it writes the run folder here.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.config import host_problem, split_hosts
from forgellm_tui.core.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
LAUNCHER_VAR = "FORGELLM_MLX_LAUNCH"   # path of mlx.launch to use (default: next to this Python, then PATH)
SSH_TIMEOUT = 8


class HostError(ConfigError):
    """A host, hostfile or launcher problem found before the ranks start."""


@dataclass(frozen=True)
class Host:
    name: str               # as written ([user@]host): the SSH destination
    ips: tuple[str, ...]    # addresses the ring backend uses (resolved later when empty)
    local: bool             # this machine: started without SSH

    @property
    def address(self) -> str:
        return self.name.rpartition("@")[2]


def is_local(name: str) -> bool:
    """This machine, started without SSH (``user@...`` always goes through SSH)."""
    if "@" in name:
        return False
    own = socket.gethostname()
    return name in LOOPBACK or name in (own, own.split(".")[0], f"{own.split('.')[0]}.local")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def read_hostfile(path: Path) -> list[Host]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HostError(f"cannot read the hostfile ({exc.strerror or exc})", path=path,
                        hint="set distributed.hostfile to an existing JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HostError(f"hostfile is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path=path,
                        hint='write a JSON list, e.g. ["mac1", "mac2"] or [{"ssh": "mac2", "ips": ["10.0.0.2"]}]') from None
    entries = data.get("hosts") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise HostError("hostfile must hold a non-empty list of hosts", path=path,
                        hint='e.g. ["mac1", "mac2"] or {"hosts": [{"ssh": "mac2", "ips": ["10.0.0.2"]}]}')
    hosts = []
    for n, entry in enumerate(entries, 1):
        if isinstance(entry, str) and split_hosts([entry]):
            name, ips = entry.strip(), []
        elif isinstance(entry, dict) and isinstance(entry.get("ssh"), str) and entry["ssh"].strip():
            name, ips = entry["ssh"].strip(), entry.get("ips") or []
            if not isinstance(ips, list) or not all(isinstance(i, str) and _is_ip(i) for i in ips):
                raise HostError(f"host {n} ({name}): ips must be a list of IP addresses", path=path,
                                hint='e.g. {"ssh": "mac2", "ips": ["10.0.0.2"]}')
        else:
            raise HostError(f"host {n} is neither a host name nor {{\"ssh\": NAME, \"ips\": [...]}}", path=path,
                            hint="fix that entry")
        if host_problem(name):
            raise HostError(f"host {n}: {host_problem(name)}", path=path, hint="fix that entry")
        hosts.append(_host(name, ips))
    return hosts


def _host(name: str, ips: list[str] | tuple = ()) -> Host:
    local = is_local(name)
    ips = tuple(ips) or ((name,) if _is_ip(name) else ())
    return Host(name, ips, local)


def configured_hosts(cfg, settings=None) -> list[Host]:
    """One ``Host`` per rank from the config (reads the hostfile; no network)."""
    section = cfg.distributed or {}
    if section.get("hostfile"):
        path = Path(section["hostfile"]).expanduser()
        if not path.is_absolute():
            workspace = settings.workspace if settings is not None else Path(cfg.workspace or ".")
            path = Path(workspace) / path
        return read_hostfile(path)
    names = split_hosts(section.get("hosts")) or []
    for name in names:
        if host_problem(name):
            raise HostError(host_problem(name), path=cfg.source, hint="fix distributed.hosts")
    return [_host(name) for name in names]


def world_size(cfg) -> int:
    """Ranks a config asks for (1 without a distributed section or when the hostfile is unreadable)."""
    if not getattr(cfg, "distributed", None):
        return 1
    try:
        return max(len(configured_hosts(cfg)), 1)
    except ConfigError:
        return 1
