"""``forgellm-tui train`` for a config with a ``distributed:`` section (or ``--hosts a,b``).

``launch``: checks hosts and config, creates the run folder, starts one rank per host with
``mlx.launch ... -- python -m forgellm_tui train --rank-child RUN_DIR`` and streams rank 0's output.
Ctrl-C (or SIGTERM/SIGHUP) asks rank 0 to stop: every rank stops after the same step and rank 0
saves a checkpoint; a second Ctrl-C kills the ranks. When a rank dies, the others fail within
seconds (the ring backend reports the lost peer); the run is marked failed, its checkpoints stay.
``run_rank``: one rank (what mlx.launch starts).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import settings_from

GRACE_SECONDS = 30          # after a rank died: how long the others get to record and exit
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FAULT_VAR = "FORGELLM_FAULT_HANG"  # tests only: "RANK:ITERATION" makes that rank hang there


def launch(args, cfg, settings, run_dir: Path | None = None) -> int:
    from forgellm_tui.core import fsio
    from forgellm_tui.core.distributed import launch_command, launch_plan
    from forgellm_tui.core.runs import read_run_json
    from forgellm_tui.core.training import check_divisible, prepare_run, resume_config

    plan = launch_plan(cfg, settings)
    child = ["--rank-child", None, "--rank-backend", plan.backend]
    if args.resume:
        from forgellm_tui.core.runs import check_free

        adjusted, run_dir, _ = resume_config(cfg, Path(args.resume), None)
        check_divisible(adjusted, len(plan.hosts))
        check_free(run_dir)  # refuse before the ranks start
        child += ["--rank-resume", *([str(Path(args.config).resolve())] if args.config else [])]
        for item in args.overrides:
            child += ["--set", item]
        if args.hosts or args.hostfile:
            child += ["--hosts", args.hosts] if args.hosts else ["--hostfile", str(Path(args.hostfile).resolve())]
    elif run_dir is None:
        run_dir = prepare_run(cfg)
    run_dir = Path(run_dir).resolve()
    child[1] = str(Path(args.resume).resolve() if args.resume else run_dir)  # a resume may name a checkpoint
    before = read_run_json(run_dir) or {}
    tmp = Path(tempfile.mkdtemp(prefix="forgellm-hosts-"))
    try:
        hostfile = fsio.atomic_write_json(tmp / "hosts.json", plan.hostfile())
        cmd = launch_command(plan, hostfile, settings.workspace, child)
        print(f"starting {len(plan.hosts)} ranks ({plan.backend}) on {', '.join(h.name for h in plan.hosts)}",
              flush=True)
        _Launch(cmd, run_dir).run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _finish(run_dir, before, bool(args.resume))


class _Launch:
    """mlx.launch as a child process: its output streamed, stop requests forwarded to rank 0."""

    def __init__(self, cmd: list[str], run_dir: Path):
        self.cmd, self.run_dir = cmd, run_dir
        self.proc: subprocess.Popen | None = None
        self.stops = 0
        self.deadline: float | None = None
        self.ring_noise = 0

    def run(self) -> None:
        previous = {}
        # stdin: a pipe that stays silent (mlx.launch polls its stdin; /dev/null would make that spin)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            try:
                previous[name] = signal.signal(getattr(signal, name), self._on_signal)
            except (ValueError, AttributeError):  # not the main thread
                pass
        watchdog = threading.Thread(target=self._watch, daemon=True)
        watchdog.start()
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                self._line(ANSI.sub("", raw.decode("utf-8", errors="replace")).rstrip())
            self.proc.wait()
        finally:
            for name, old in previous.items():
                signal.signal(getattr(signal, name), old)
            if self.proc.poll() is None:
                self._kill(signal.SIGKILL)
            self.proc.stdin.close()

    def _line(self, line: str) -> None:
        if line.startswith("[ring] Socket") and "closed by the peer" in line:
            self.ring_noise += 1
            if self.ring_noise > 1:
                return  # the ring backend repeats this for every retry
        if "Node with rank" in line and ("exited with code" in line or "was killed" in line):
            line = line.replace("[WARN] ", "").strip()
            if "exited with code 0" not in line and self.deadline is None:
                self.deadline = time.monotonic() + GRACE_SECONDS
        _print(line)

    def _watch(self) -> None:
        while self.proc.poll() is None:
            if self.deadline is not None and time.monotonic() > self.deadline:
                _print(f"a rank died and the others did not exit within {GRACE_SECONDS} s: killing them")
                self._kill(signal.SIGKILL)
                return
            time.sleep(0.5)

    def _kill(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _on_signal(self, signum, _frame) -> None:
        from forgellm_tui.core.runs import request_stop

        self.stops += 1
        name = signal.Signals(signum).name
        if self.stops > 1:
            _print(f"{name} again: killing the ranks (resume continues from the last checkpoint)")
            self._kill(signal.SIGKILL)
            return
        if request_stop(self.run_dir) is not None:  # rank 0 has recorded its pid: it stops every rank
            _print(f"{name}: all ranks stop after this step; rank 0 saves a checkpoint (again to abort)")
        else:
            self._kill(signal.SIGTERM)
            _print(f"{name}: stopping the ranks before training started")


def _print(text: str) -> None:
    try:
        print(text, flush=True)
    except (BrokenPipeError, ValueError):
        pass


def _finish(run_dir: Path, before: dict, resumed: bool) -> int:
    """Exit status from rank 0's run.json; a run rank 0 never finished is marked failed here."""
    from forgellm_tui.core.runs import RunFolder, read_run_json, stop_cause as causes

    info = read_run_json(run_dir) or {}
    status = info.get("status")
    if status in ("finished", "stopped"):
        return 0
    if status == "failed":
        _print(f"resume it: forgellm-tui train --resume {run_dir}")
        return 1
    never_started = info.get("updated_at") == before.get("updated_at")
    if never_started:  # refused (the reason is printed above) or mlx.launch could not start the ranks
        if not resumed and status in ("queued", "starting") and not (run_dir / "checkpoints").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        return 2
    message = "rank 0 ended without recording an outcome (killed?) — the last checkpoint is intact"
    RunFolder(run_dir, info).ended("failed", causes.ERROR, error=message)
    _print(f"run failed: {message}")
    _print(f"resume it: forgellm-tui train --resume {run_dir}")
    return 1


# --------------------------------------------------------------------------- one rank

def run_rank(args) -> int:
    """One rank: join the group, agree on the config with rank 0, train (rank 0 prints and writes)."""
    from forgellm_tui.core.runtime import backend as runtime
    from forgellm_tui.core.training import TrainingControl
    from forgellm_tui.core.distributed import RankRefused, init_world
    from forgellm_tui.core.training import train
    from .train_common import install_signals, restore_signals
    from .train_progress import Printer

    settings = settings_from(args)
    world = init_world(args.rank_backend)
    control = TrainingControl()
    printer = Printer(verbose=args.verbose) if world.is_main else None
    if world.is_main:
        previous = install_signals(control, printer)
    else:  # rank 0 decides when to stop; SIGTERM/SIGHUP end this process
        previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    run_dir = Path(args.rank_child)
    try:
        cfg = _rank_config(args, settings, world)
        result = train(cfg, printer, control, resume_from=run_dir if args.rank_resume else None,
                       run_dir=None if args.rank_resume else run_dir, fault_hook=_fault_hook(world), world=world)
    except RankRefused:
        return 2
    finally:
        restore_signals(previous)
        runtime.shutdown_mlx()
    if printer is not None:
        printer.summary(result)
    elif result.status == "failed":
        print(f"rank {world.rank}: {result.error}", file=sys.stderr, flush=True)
    return 1 if result.status == "failed" else 0


def _rank_config(args, settings, world):
    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.training import share_config
    from .train_common import load_config_of

    cfg, error = None, None
    if world.is_main:
        if args.rank_resume:
            args.resume, args.config = args.rank_child, args.rank_resume if args.rank_resume is not True else None
        else:
            args.start_run, args.config = args.rank_child, None
        try:
            cfg = load_config_of(args, settings)
        except ForgeError as exc:
            error = exc
    world.check_ready(error)
    return share_config(world, cfg, str(settings.workspace))


def _fault_hook(world):
    """Test-only fault injection: ``FORGELLM_FAULT_HANG=RANK:ITERATION`` hangs that rank there."""
    spec = os.environ.get(FAULT_VAR, "")
    rank, _, iteration = spec.partition(":")
    if not spec or int(rank) != world.rank:
        return None

    def hang(it: int) -> None:
        if it == int(iteration):
            print(f"HANGING rank {world.rank} pid {os.getpid()}", flush=True)
            time.sleep(600)

    return hang
