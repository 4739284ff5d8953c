"""The real program in a pseudo-terminal: what a user at a terminal (or over SSH) runs and sees."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from wait_helpers import wait_until

pty = pytest.importorskip("pty")


class Terminal:
    """``forgellm-tui ARGS`` running in a pseudo-terminal of 100×30; the output is drained so it never blocks."""

    def __init__(self, args: list[str]) -> None:
        import fcntl
        import struct
        import termios

        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes the app
            os.execvpe(sys.executable, [sys.executable, "-m", "forgellm_tui", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.output = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        wait_until(lambda: text in self.output, timeout, describe=f"{text!r} never shown")

    def press(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def hang_up(self) -> None:
        """What an SSH drop does: SIGHUP, and the terminal is gone."""
        os.kill(self.pid, signal.SIGHUP)
        wait_until(lambda: not _signal_pending(self.pid, signal.SIGHUP), 10)  # the app has taken it
        os.close(self.fd)

    def wait_exit(self, timeout: float) -> int:
        statuses = []

        def exited() -> bool:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                statuses.append(status)
            return bool(pid)

        try:
            wait_until(exited, timeout, 0.2)
        except AssertionError:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise AssertionError(f"the app did not exit within {timeout}s") from None
        return os.waitstatus_to_exitcode(statuses[0])


def _signal_pending(pid: int, signum: int) -> bool:
    """Whether ``signum`` is still waiting to be delivered to ``pid`` (Linux's /proc; elsewhere False:
    ``os.kill`` has queued it and there is nothing to watch)."""
    try:
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        return False
    masks = [int(line.split()[1], 16) for line in status.splitlines() if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(mask & (1 << (signum - 1)) for mask in masks)
