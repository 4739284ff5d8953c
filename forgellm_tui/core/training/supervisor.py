"""A parent process around a headless or background single-process run: a trainer that dies is recorded,
and one killed the way an out-of-memory process dies restarts at half the batch size.

An out-of-memory process is often killed outright instead of raising (the kernel's OOM killer or a
cgroup limit sends SIGKILL; MLX crashes with SIGSEGV or SIGBUS on a failed allocation; a shell
reports these as exit 137/139/135), so the training process cannot record why it ended. The
supervisor starts the trainer as its child and waits. When the child dies of a signal while
``run.json`` still says it is active, the supervisor takes the run's lock (the kernel dropped the
dead child's ``flock``), writes the cause to ``run.json`` and ``error.log``, and for a memory-like
death continues from the newest complete checkpoint (or from the start when there is none) with
``batch_size`` halved and ``grad_accumulation_steps`` doubled (same optimizer batch), recorded in
``oom_recoveries`` like an out-of-memory error caught inside the trainer. At batch size 1 the run
fails with the reason instead, so the restarts are bounded.

The child runs in its own process group: the terminal's Ctrl-C reaches only the supervisor, which
passes SIGINT/SIGTERM/SIGHUP (and SIGQUIT) on exactly once, so a stop or a second Ctrl-C behaves as
in an unsupervised run; Ctrl-Z stops both. ``run.json``'s pid is the trainer's while it trains (stop
requests by pid reach it directly) and the supervisor's while it restarts one (status ``queued``).
A child's own exit status (0, 1, 2, 130 …) is passed through unchanged. Runs on several machines
are not supervised (``mlx.launch`` owns their processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core.runs import stop_cause
from forgellm_tui.core import fsio
from forgellm_tui.core.runs import CONFIG, RunFolder

#: statuses of a run whose trainer has not recorded its end
UNFINISHED = ("queued", "starting", "running", "paused", "stopping")
#: signals passed on to the child; the first three stop a run gracefully
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
STOPS = ("SIGINT", "SIGTERM", "SIGHUP")
#: how an out-of-memory process dies when nothing could raise an error in it
MEMORY_SIGNALS = ("SIGKILL", "SIGSEGV", "SIGBUS")
ERROR_LOG = "error.log"


def death_signal(returncode: int) -> signal.Signals | None:
    """The signal a child died of: ``-N`` from ``wait``, or ``128+N`` for the memory signals (a shell's report)."""
    number = -returncode if returncode < 0 else returncode - 128
    try:
        sig = signal.Signals(number)
    except ValueError:
        return None
    return sig if returncode < 0 or sig.name in MEMORY_SIGNALS else None


def death_reason(sig: signal.Signals) -> str:
    if sig.name == "SIGKILL":
        return ("the training process was killed by SIGKILL (likely out of memory: the kernel's out-of-memory "
                "killer or a memory limit)")
    if sig.name in MEMORY_SIGNALS:
        return f"the training process crashed with {sig.name} (likely a failed memory allocation)"
    return f"the training process was killed by {sig.name}"


@dataclass(frozen=True)
class Restart:
    """How the next child continues: from ``checkpoint`` (None: from the start) with this batch."""

    checkpoint: Path | None
    batch_size: int
    grad_accumulation_steps: int


#: ``start(restart, report_fd)``: the command line of a child that reports its run folder on ``report_fd``
Command = Callable[[Restart | None, int], list[str]]


class Supervisor:
    def __init__(self, command: Command, run_dir: Path | None = None, note: Callable[[str], None] | None = None):
        self.command = command
        self.run_dir = Path(run_dir) if run_dir is not None else None   # known before the child says so
        self.note = note or (lambda text: print(text, file=sys.stderr, flush=True))
        self.child: subprocess.Popen | None = None
        self.stop_signal: str | None = None

    def run(self) -> int:
        """Run the child (and its restarts) to the end; the exit status to return."""
        previous = self._install()
        try:
            restart = None
            while True:
                code = self._once(restart)
                sig = death_signal(code)
                if sig is None:
                    return code
                restart, status = self._after_death(sig)
                if restart is None:
                    return status
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    # ------------------------------------------------------------------ one child
    def _once(self, restart: Restart | None) -> int:
        read_end, write_end = os.pipe()
        try:
            group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
            self.child = subprocess.Popen(self.command(restart, write_end), pass_fds=(write_end,), **group)
        finally:
            os.close(write_end)
        try:
            if self.stop_signal is not None:   # asked to stop while the child was being started
                self._forward(getattr(signal, self.stop_signal))
            code = self.child.wait()
            reported = _read_all(read_end).strip()
        finally:
            os.close(read_end)
        if reported:
            self.run_dir = Path(reported)
        return code

    def _after_death(self, sig: signal.Signals) -> tuple[Restart | None, int]:
        """Record the death; ``(restart, 0)`` to go on, ``(None, exit status)`` to end."""
        from forgellm_tui.core.errors import ConfigError
        from forgellm_tui.core.runs import RunLock

        reason = death_reason(sig)
        passed = 128 + sig.value                      # what a shell shows for a process killed by sig
        if self.run_dir is None:                      # died before its run folder existed
            self.note(f"error: {reason} before it created its run folder")
            return None, passed
        try:
            lock = RunLock.acquire(self.run_dir)      # free: the kernel dropped the dead child's flock
        except ConfigError as exc:                    # RunLocked: another process resumed it meanwhile
            self.note(f"error: {reason}; not recorded: {exc}")
            return None, 1
        try:
            run = RunFolder.open(self.run_dir)
        except ConfigError as exc:
            lock.release()
            self.note(f"error: {reason}; not recorded: {exc}")
            return None, passed
        try:
            if run.info.get("status") not in UNFINISHED:   # it recorded its own end, then died
                return None, passed
            return self._record(run, sig, reason, passed)
        finally:
            run.close()
            lock.release()

    def _record(self, run: RunFolder, sig: signal.Signals, reason: str, passed: int) -> tuple[Restart | None, int]:
        iteration = int(run.info.get("iteration") or 0)
        if self.stop_signal is not None:
            why = f"stopped by {self.stop_signal}: {reason} (resume continues from the last checkpoint)"
            _write_error_log(run, why, sig, iteration)
            run.log("warning", why)
            run.ended("stopped", stop_cause.for_signal(self.stop_signal), stop_reason=why, iteration=iteration)
            self.note(why)
            return None, passed
        restart = next_restart(run.path) if sig.name in MEMORY_SIGNALS else None
        if restart is None:
            if sig.name in MEMORY_SIGNALS:
                reason += " at batch_size 1; lower max_seq_length or use a smaller model"
            _write_error_log(run, reason, sig, iteration)
            run.log("error", reason)
            run.ended("failed", stop_cause.OOM if sig.name in MEMORY_SIGNALS else stop_cause.ERROR, error=reason,
                      iteration=iteration)
            self.note(f"run failed at iteration {iteration}: {reason}")
            self.note(f"details: {run.path / ERROR_LOG}")
            return None, 1
        self.note(f"recovered: {_record_restart(run, restart, reason, sig, iteration)}")
        return restart, 0

    # ------------------------------------------------------------------ signals
    def _install(self) -> dict:
        previous = {}
        for name in FORWARDED:
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, self._on_signal)
        if hasattr(signal, "SIGTSTP"):
            previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, self._on_suspend)
        return previous

    def _on_signal(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        if name in STOPS and self.stop_signal is None:
            self.stop_signal = name                    # no restart after a stop request
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        child = self.child
        if child is not None and child.returncode is None:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass

    def _on_suspend(self, signum, _frame) -> None:
        """Ctrl-Z: stop the child (it is in another process group), then this process; both go on together."""
        self._forward(signal.SIGSTOP)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)                   # stops here until fg/bg sends SIGCONT
        signal.signal(signum, self._on_suspend)
        self._forward(signal.SIGCONT)


def next_restart(run_dir: Path) -> Restart | None:
    """Half the batch the dead child trained with, from the newest complete checkpoint; None at batch size 1.

    The batch in use is the smaller of ``config.yaml``'s (changed by an out-of-memory recovery inside
    the trainer) and the checkpoint's (the one a resume continues with).
    """
    import yaml

    saved = yaml.safe_load((Path(run_dir) / CONFIG).read_text(encoding="utf-8")) or {}
    pairs = [(int(saved.get("batch_size", 1)), int(saved.get("grad_accumulation_steps", 1)))]
    checkpoint = ck.latest_checkpoint(run_dir)
    if checkpoint is not None:
        state = ck.read_state(checkpoint)
        if state.get("batch_size"):
            pairs.append((int(state["batch_size"]), int(state.get("grad_accumulation_steps", 1))))
    batch, accumulation = min(pairs)
    if batch < 2:
        return None
    return Restart(checkpoint, batch // 2, accumulation * 2)


def _record_restart(run: RunFolder, restart: Restart, reason: str, sig: signal.Signals, iteration: int) -> str:
    """The run waits for the next child: ``queued`` with this process's pid (alive, so not interrupted)."""
    from forgellm_tui.core.training.prepare import load_run_config

    cfg = load_run_config(run.path)
    cfg = replace(cfg, batch_size=restart.batch_size, grad_accumulation_steps=restart.grad_accumulation_steps)
    fsio.atomic_write_text(run.path / CONFIG, cfg.to_yaml())
    start = restart.checkpoint.name if restart.checkpoint is not None else "start"
    event = {"iteration": iteration, "error": reason, "batch_size": restart.batch_size,
             "grad_accumulation_steps": restart.grad_accumulation_steps, "restarted_from": start}
    run.info.setdefault("oom_recoveries", []).append(event)
    message = (f"{reason} at iteration {iteration}: batch_size {restart.batch_size * 2} -> {restart.batch_size}, "
               f"grad_accumulation_steps {restart.grad_accumulation_steps // 2} -> "
               f"{restart.grad_accumulation_steps}; restarting from {start}")
    _write_error_log(run, message, sig, iteration)
    run.log("warning", message)
    run.update(status="queued", pid=os.getpid(), error=None)
    return message


def _write_error_log(run: RunFolder, message: str, sig: signal.Signals, iteration: int) -> None:
    checkpoint = ck.latest_checkpoint(run.path)
    text = (f"{message}\n\nthe process ended by signal {sig.value} ({sig.name}) at iteration {iteration}; "
            f"newest complete checkpoint: {checkpoint.name if checkpoint else 'none'}\n")
    fsio.atomic_write_text(run.path / ERROR_LOG, text)


def _read_all(fd: int) -> str:
    """What the child wrote on the report pipe (it has exited, so this never waits)."""
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:   # a grandchild still holds the write end: take what is there
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")
