"""One writer per run folder: an exclusive lock held for the whole life of a run.

Two processes (or two runs inside the app) writing one run folder interleave their metrics and
overwrite each other's checkpoints. Every way a run starts (``train`` in the app or the CLI, a
detached run, rank 0 of a distributed run) takes this lock before writing anything, and a second
writer is refused with one line naming the holder's pid.

The lock is ``flock`` on ``RUN/run.lock``: the kernel drops it when the holder exits, however it
exits (kill -9 included), so the pid left in a dead run's lock file never blocks a resume. The
file itself stays (deleting it would let two processes lock two different files). Where the file
system has no ``flock`` (some network mounts) the pid in the file decides: a live process on this
host keeps the lock, a dead one's is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from forgellm_tui.core.errors import ConfigError

LOCK = "run.lock"
_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class RunLocked(ConfigError):
    """Another process (or another run in this one) is writing the run folder."""


def _holder(fd: int) -> tuple[int | None, str]:
    """(pid, host) written in an open lock file."""
    try:
        text = os.pread(fd, 256, 0).decode("utf-8", errors="replace").split()
    except OSError:
        return None, ""
    pid = int(text[0]) if text and text[0].isdigit() else None
    return pid, text[1] if len(text) > 1 else ""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Held until ``release`` (or until the process ends)."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, run_dir: str | Path) -> "RunLock":
        """Lock ``run_dir`` (which must exist); RunLocked naming the holder's pid when it is taken."""
        path = Path(run_dir) / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot lock the run folder ({exc.strerror or exc})", path=run_dir,
                              hint="a run needs a run folder it can write to") from None
        try:
            _lock(fd, path)
            data = f"{os.getpid()} {socket.gethostname()}\n".encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no pid left behind once the run is over
        os.close(fd)            # closing drops the flock


def _lock(fd: int, path: Path) -> None:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except OSError as exc:
        if exc.errno not in _BUSY:
            _pid_file_lock(fd, path)   # no flock on this file system
            return
    raise _refusal(fd, path)


def _pid_file_lock(fd: int, path: Path) -> None:
    pid, host = _holder(fd)
    if pid is not None and pid != os.getpid() and host == socket.gethostname() and pid_alive(pid):
        raise _refusal(fd, path)


def _refusal(fd: int, path: Path) -> RunLocked:
    pid, host = _holder(fd)
    here = socket.gethostname()
    who = (f"pid {pid}" + (f" on {host}" if host and host != here else "")) if pid else "another process"
    if pid == os.getpid():
        who = f"this process (pid {pid})"
    return RunLocked(f"another run is writing this folder ({who})", path=path.parent,
                     hint="wait for it to end or stop it first; one run folder takes one writer at a time")


def check_free(run_dir: str | Path) -> None:
    """RunLocked when a run holds ``run_dir`` now (for a launcher that hands the run to a child process)."""
    if (Path(run_dir) / LOCK).exists():
        RunLock.acquire(run_dir).release()
