"""Data-parallel training on MLX's distributed layer: the group of ranks and what they agree on.

A run started by ``mlx.launch`` (``forgellm-tui train`` does that for a config with a
``distributed:`` section) has one process per rank. ``World`` wraps ``mx.distributed``: sums of
losses and token counts, rank 0's decisions shared with every rank (config, control requests,
checkpoint files for a resume) and a start-up gate where a rank that cannot train refuses for all.
Only rank 0 writes the run folder; the other ranks use ``NullRunFolder``. MLX is imported inside
the functions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs import RunFolder, stop_cause as causes, utc_now

MESSAGE_BYTES = 1024


class RankRefused(ForgeError):
    """Raised on ranks other than 0 when the start-up gate failed (rank 0 prints the reason)."""


@dataclass
class World:
    """This process's place in the group; ``World()`` is a single process."""

    rank: int = 0
    size: int = 1
    group: Any = None
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    # ------------------------------------------------------------------ collectives
    def all_sum(self, x):
        import mlx.core as mx

        return mx.distributed.all_sum(x, group=self.group, stream=mx.cpu)

    def sum_floats(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (float64)."""
        import mlx.core as mx

        if self.size == 1:
            return [float(v) for v in values]
        return self.all_sum(mx.array([float(v) for v in values], dtype=mx.float64)).tolist()

    def broadcast_bytes(self, data: bytes | None) -> bytes:
        """Rank 0's ``data`` on every rank (the others pass None)."""
        import mlx.core as mx
        import numpy as np

        n = int(self.all_sum(mx.array([len(data) if self.is_main else 0], dtype=mx.int64)).item())
        if n == 0:
            return b""
        buf = mx.array(np.frombuffer(data, np.uint8)) if self.is_main else mx.zeros((n,), mx.uint8)
        return bytes(np.array(self.all_sum(buf)))

    def share_json(self, obj: Any = None) -> Any:
        """Rank 0's JSON-able ``obj`` on every rank."""
        data = json.dumps(obj).encode("utf-8") if self.is_main else None
        return json.loads(self.broadcast_bytes(data).decode("utf-8"))

    def gather_text(self, text: str) -> list[str]:
        """Every rank's short ``text`` (up to ~1000 bytes), in rank order, on every rank."""
        import mlx.core as mx
        import numpy as np

        raw = text.encode("utf-8")[: MESSAGE_BYTES - 1]
        buf = np.zeros(MESSAGE_BYTES, np.uint8)
        buf[: len(raw)] = np.frombuffer(raw, np.uint8)
        if self.size == 1:
            rows = buf.reshape(1, -1)
        else:
            out = mx.distributed.all_gather(mx.array(buf), group=self.group, stream=mx.cpu)
            rows = np.array(out).reshape(self.size, MESSAGE_BYTES)
        return [bytes(row).rstrip(b"\0").decode("utf-8", errors="replace") for row in rows]

    # ------------------------------------------------------------------ agreements
    def check_ready(self, error: BaseException | None) -> None:
        """Start-up gate: every rank says whether it can train; any refusal stops all ranks.

        Rank 0 raises its own error or one naming the rank and host that refused; the other
        ranks raise ``RankRefused`` (quiet: rank 0 reports it).
        """
        text = "" if error is None else f"{socket.gethostname()}: {error}"
        try:
            messages = self.gather_text(text)
        except RuntimeError as exc:  # a rank died before it could say why
            raise ForgeError(f"a rank stopped before training started ({exc})",
                             hint="its error is printed above") from None
        bad = [(rank, msg) for rank, msg in enumerate(messages) if msg]
        if not bad:
            return
        if not self.is_main:
            raise RankRefused(f"rank 0 reports the refusal ({len(bad)} rank(s) cannot train)")
        if error is not None:
            raise error
        rank, msg = bad[0]
        raise ForgeError(f"rank {rank} on {msg}", hint="every machine needs the same paths (docs/distributed.md)")

    def check_in_sync(self, weights: dict) -> list[str]:
        """SHA-256 of each rank's weights (all equal), or RuntimeError naming the rank that differs."""
        digests = self.gather_text(weights_digest(weights))
        for rank, digest in enumerate(digests[1:], 1):
            if digest != digests[0]:
                raise RuntimeError(f"the ranks' weights differ (rank {rank} vs rank 0): data-parallel training "
                                   "went out of sync — resume from the last checkpoint")
        return digests


SINGLE = World()


def init_world(backend: str = "ring") -> World:
    """Join the group started by ``mlx.launch`` (ForgeError when that fails)."""
    import mlx.core as mx

    try:
        group = mx.distributed.init(strict=True, backend=backend)
    except (RuntimeError, ValueError) as exc:
        raise ForgeError(f"cannot join the {backend} group ({exc})",
                         hint="start distributed runs with forgellm-tui train (it runs mlx.launch)") from None
    return World(group.rank(), group.size(), group, backend)


def weights_digest(weights: dict) -> str:
    """SHA-256 over names and raw bytes of a flat ``{name: mx.array}`` (exact: any bit differs -> differs)."""
    import mlx.core as mx
    import numpy as np

    h = hashlib.sha256()
    mx.eval(list(weights.values()))
    for name in sorted(weights):
        value = weights[name]
        if value.dtype == mx.bfloat16:
            value = value.view(mx.uint16)
        h.update(name.encode("utf-8"))
        h.update(np.array(value).tobytes())
    return h.hexdigest()


def share_checkpoint(world: World, folder: Path | None) -> tuple[Path | None, Callable[[], None] | None]:
    """Rank 0's checkpoint folder on every rank: the others get a private temporary copy.

    Returns ``(folder, cleanup)``; ``cleanup`` removes the copy (None on rank 0 or without a checkpoint).
    """
    names = sorted(p.name for p in folder.iterdir() if p.is_file()) if world.is_main and folder else None
    info = world.share_json({"name": folder.name if folder else None, "files": names})
    if info["files"] is None:
        return folder, None
    if world.is_main:
        for name in info["files"]:
            world.broadcast_bytes((folder / name).read_bytes())
        return folder, None
    root = Path(tempfile.mkdtemp(prefix=f"{fsio.TMP_PREFIX}rank{world.rank}-checkpoint-"))
    copy = root / "checkpoints" / info["name"]
    copy.mkdir(parents=True)
    for name in info["files"]:
        fsio.atomic_write_bytes(copy / name, world.broadcast_bytes(None))
    return copy, lambda: shutil.rmtree(root, ignore_errors=True)


class NullRunFolder(RunFolder):
    """The run folder as seen by ranks other than 0: the same interface, nothing written."""

    def save(self) -> None:
        self.info["updated_at"] = utc_now()

    def append_metrics(self, record: dict) -> None:
        pass

    def log(self, level: str, message: str) -> None:
        pass

    def truncate_metrics(self, iteration: int) -> int:
        return 0


class SyncedControl:
    """Rank 0's control requests (stop, pause, save, length), agreed by every rank.

    ``Session.run`` reads this object like a ``TrainingControl``. The requests travel with the loss
    sum at the end of each step (``requests``/``absorb``, no extra round trip); a loop turn without
    a step (start, pause) calls ``sync``. Every rank takes the same decision at the same iteration.
    """

    def __init__(self, world: World, local):
        self.world, self.local = world, local
        self._stop = self._paused = self._save = self._fresh = False
        self._max: int | None = None

    def requests(self, current_max: int) -> list[float]:
        """Rank 0's pending requests as numbers (zeros on the other ranks), to be summed over ranks."""
        local = self.local
        if not self.world.is_main:
            return [0.0] * 4
        new_max = local.take_max_iterations(current_max)
        return [float(local.stop_requested), float(local.paused and not local.stop_requested),
                float(local.take_save_request()), float(new_max)]

    def absorb(self, values: list[float]) -> None:
        """The summed ``requests``: the decisions of the next loop turn."""
        self._stop, self._paused, self._save = bool(values[0]), bool(values[1]), bool(values[2])
        self._max, self._fresh = int(values[3]), True

    def sync(self, current_max: int) -> None:
        """Agree on rank 0's requests now (one small all-sum)."""
        self.absorb(self.world.sum_floats(self.requests(current_max)))
        self._fresh = False

    def take_fresh(self) -> bool:
        """True once after a step brought the requests along (no ``sync`` needed)."""
        fresh, self._fresh = self._fresh, False
        return fresh

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_reason(self) -> str:
        return self.local.stop_reason if self.world.is_main else "stopped by rank 0"

    @property
    def stop_cause(self) -> str:
        return self.local.stop_cause  # only rank 0, whose control took the request, records it

    def wait_while_paused(self, timeout: float = 0.2) -> bool:
        if not self.world.is_main:
            return True  # the next sync waits for rank 0
        if not self.local.paused or self.local.stop_requested:
            return True
        return self.local.wait_while_paused(timeout)

    def take_save_request(self) -> bool:
        requested, self._save = self._save, False
        return requested

    def take_max_iterations(self, current: int) -> int:
        value = self._max if self._max is not None else current
        self._max = None
        return value

    # requests from this process go to the local control (rank 0 shares them at the next sync)
    def stop(self, reason: str = "stopped by user", cause: str = causes.USER) -> None:
        self.local.stop(reason, cause)
