"""The ``distributed:`` config section: ``{hosts: [mac1, mac2] | hostfile: PATH, backend: ring|mpi, port: 32323}``.

Checked with the rest of the config, without I/O: reading a hostfile and reaching the hosts happen
in ``core.distributed`` before ``mlx.launch`` starts. One host entry is one rank (list a machine
twice for two ranks on it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints, ValidationError,
                      model_validator)
from pydantic_core import PydanticCustomError

Backend = Literal["ring", "mpi"]
BACKENDS = get_args(Backend)
DEFAULT_PORT = 32323
_SHAPE = "must be a mapping: {hosts: [host1, host2]} or {hostfile: PATH}, backend: ring|mpi"
#: order in which a section's problems are reported after unknown keys (None: hosts and hostfile both or neither)
_ORDER = (None, "hosts", "hostfile", "backend", "port")


def split_hosts(hosts: Any) -> list[str] | None:
    """``"a,b"`` or ``[a, b]`` -> ``["a", "b"]``; None when it is not a list of names."""
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",")]
    if not isinstance(hosts, (list, tuple)):
        return None
    if not all(isinstance(h, str) and h.strip() and not any(c.isspace() for c in h.strip()) for h in hosts):
        return None
    return [h.strip() for h in hosts]


def host_problem(name: str) -> str | None:
    """Why ``name`` cannot be a host; a name starting with '-' would reach ssh as an option."""
    if name.startswith("-") or name.rpartition("@")[2].startswith("-"):
        return f"host {name!r} starts with '-' (ssh would read it as an option) — use the machine's name or address"
    return None


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("section", "{message}", {"message": message})


def _hosts(value: Any) -> list[str] | None:
    if value is None:
        return None
    names = split_hosts(value)
    if names is None:
        raise _problem(f"hosts must be a list of host names, got {value!r}")
    if (bad := next((n for n in names if host_problem(n)), None)) is not None:
        raise _problem(host_problem(bad))
    if len(names) < 2:
        raise _problem(f"hosts lists {len(names)} host; data-parallel training needs at least 2 ranks")
    return names


class DistributedSection(BaseModel):
    """A valid ``distributed:`` section (hosts as a list)."""

    model_config = ConfigDict(extra="forbid")

    hosts: Annotated[list[str] | None, BeforeValidator(_hosts)] = Field(
        None, description="one entry per rank, this machine first; 'a,b' or [a, b]")
    hostfile: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        None, description="JSON file listing the hosts (instead of hosts)")
    backend: Backend = Field("ring", description="mlx.distributed backend")
    port: Annotated[int, Strict()] = Field(DEFAULT_PORT, ge=1024, le=65000, description="first port the ring uses")

    @model_validator(mode="before")
    @classmethod
    def _one_source(cls, data: Any) -> Any:
        if not isinstance(data, dict) or any(k not in cls.model_fields for k in data):
            return data  # reported by pydantic (not a mapping, unknown key)
        if (data.get("hosts") is None) == (data.get("hostfile") is None):
            raise _problem("set either hosts: [host1, host2] or hostfile: PATH (exactly one)")
        return data


def _rank(error: dict) -> int:
    """Where a problem comes in the order the section is checked (unknown keys first)."""
    if error["type"] == "extra_forbidden":
        return -1
    key = error["loc"][0] if error["loc"] else None
    return _ORDER.index(key) if key in _ORDER else 0


def _message(error: dict, section: dict) -> str:
    key = error["loc"][0] if error["loc"] else None
    if error["type"] == "section":
        return error["ctx"]["message"]
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r} — one of {', '.join(DistributedSection.model_fields)}"
    if key == "hostfile":
        return f"hostfile must be a file path, got {section.get('hostfile')!r}"
    if key == "backend":
        return f"backend {section.get('backend')!r} is not supported — one of {', '.join(BACKENDS)}"
    return f"port must be a whole number from 1024 to 65000, got {section.get('port')!r}"


def section_problems(value: Any, batch_size: int | None = None) -> dict[str, str]:
    """Problems of a ``distributed`` section as ``{key: message}``: the first one, in the order checked.

    The batch size is checked right after the hosts: every rank takes an equal share of a batch.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {"distributed": _SHAPE}
    try:
        DistributedSection.model_validate(value)
        first = None
    except ValidationError as exc:
        first = min(exc.errors(), key=_rank)
    if first is None or _rank(first) > _ORDER.index("hosts"):
        ranks = len(split_hosts(value.get("hosts")) or ()) if value.get("hosts") is not None else 0
        if ranks and batch_size and batch_size % ranks:
            return {"batch_size": f"{batch_size} is not divisible by the {ranks} ranks in distributed.hosts "
                                  f"— use a multiple of {ranks}"}
    return {} if first is None else {"distributed": _message(first, value)}
