"""``forgellm-tui train CONFIG [--name NAME] [--set KEY=VALUE ...] [--resume RUN_DIR] [--detach] [--dry-run]``.

Trains in this process and prints one line per report. SIGINT/SIGTERM/SIGHUP stop the run after
the current step with a checkpoint (status ``stopped``); a second Ctrl-C aborts. ``--detach`` starts
the run in a background process (own session; output in ``RUN/train.log``) and prints its folder.
Exit status: 0 finished or stopped, 1 failed, 2 bad input. A run that finishes, fails, stops by itself
or recovers from an out of memory rings the terminal (``FORGELLM_NOTIFY``: bell, osc, off), written to
stderr when stderr is a terminal (stdout may be a pipe to ``tee``: the escapes never land in a log file). Run as the program (not ``cli.main(argv)``
from Python), a single-process run trains in a child process under ``core/supervisor.py``: a trainer
killed for memory (SIGKILL, SIGSEGV) is recorded and restarts at half the batch size from its newest
checkpoint; ``FORGELLM_NO_SUPERVISOR=1`` trains in this process instead. A config with a ``distributed:`` section
(or ``--hosts a,b`` / ``--hostfile PATH``) trains data-parallel on several machines through
``mlx.launch`` (``train_distributed.py``, docs/distributed.md). ``--dry-run`` checks the config and prints the
estimate (data, steps, expected peak memory next to this machine's) without training or writing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import settings_from
from .train_common import install_signals, load_config_of, restore_signals

#: the epilog of ``train --help``, replaced by the list of config keys when the help is shown
KEYS_PLACEHOLDER = "(config keys)"


class _KeysHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``train --help`` ends with every config key and its description (the config is imported only then)."""

    def add_text(self, text: str | None) -> None:
        super().add_text(key_list() if text == KEYS_PLACEHOLDER else text)


def key_list(width: int | None = None) -> str:
    """Every config key with its description, its default and the other spellings it is read from."""
    import shutil
    import textwrap

    from forgellm_tui.core.config import FIELDS

    width = width or max(shutil.get_terminal_size().columns - 2, 60)
    lines = ["config keys (in the YAML file, or --set KEY=VALUE):"]
    for info in FIELDS.values():
        notes = [] if info.default in (None, "", {}) else [f"default {str(info.default).lower()}"]
        if spellings := (*info.aliases, *info.nested):
            notes.append(f"also {', '.join(spellings)}")
        text = info.help + (f" [{'; '.join(notes)}]" if notes else "")
        lines += textwrap.wrap(text, width, initial_indent=f"  {info.name:<23} ", subsequent_indent=" " * 26,
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model from a YAML config (headless)",
                       description="Train from a YAML config. Paths in the config are relative to the workspace.",
                       epilog=KEYS_PLACEHOLDER, formatter_class=_KeysHelpFormatter)
    p.add_argument("config", nargs="?", help="YAML config (optional with --resume: the run's own config.yaml)")
    p.add_argument("--name", help="run folder name (default: <model>-<type>-<n>, e.g. forge-tiny-cpt-3)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set batch_size=8 --set lora_parameters.rank=16")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run exactly from its newest complete checkpoint")
    p.add_argument("--detach", action="store_true", help="run in the background; print the run folder and return")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also print what the model says at each sampling point (config key sample_prompts)")
    p.add_argument("--dry-run", action="store_true",
                   help="check the config and print the estimate (steps, expected peak memory); train nothing")
    p.add_argument("--hosts", metavar="H1,H2,...",
                   help="train data-parallel, one rank per host (short for distributed.hosts; "
                        "127.0.0.1,127.0.0.1 runs two ranks here)")
    p.add_argument("--hostfile", metavar="PATH", help="train data-parallel on the hosts of this JSON file")
    p.add_argument("--start-run", metavar="RUN_DIR", help=argparse.SUPPRESS)  # a folder made by --detach
    p.add_argument("--rank-child", metavar="RUN_DIR", help=argparse.SUPPRESS)  # one rank, started by mlx.launch
    p.add_argument("--rank-backend", default="ring", help=argparse.SUPPRESS)
    p.add_argument("--rank-resume", nargs="?", const=True, default=None, help=argparse.SUPPRESS)
    p.add_argument("--supervised", type=int, metavar="FD", help=argparse.SUPPRESS)  # a child: reports its folder on FD
    p.add_argument("--restart-batch", metavar="BS,ACCUM", help=argparse.SUPPRESS)   # a restart after a memory kill
    p.set_defaults(handler=run)


def run(args) -> int:
    from forgellm_tui.core.runtime import backend as runtime

    if args.rank_child:
        from .train_distributed import run_rank

        return run_rank(args)
    settings = settings_from(args)
    if args.resume and not args.workspace:
        from forgellm_tui.core.training import resume_target, settings_for_run

        settings = settings_for_run(resume_target(Path(args.resume)))
    cfg = load_config_of(args, settings)
    if args.dry_run:
        return _dry_run(cfg)
    if args.detach:
        return _detach(args, cfg, settings)
    if cfg.distributed:
        from .train_distributed import launch

        return launch(args, cfg, settings, Path(args.start_run) if args.start_run else None)
    if _supervises(args):
        return _supervise(args, settings)
    try:
        return _train(args, cfg, settings.notify)
    finally:
        runtime.shutdown_mlx()


def _dry_run(cfg) -> int:
    """The pre-run estimate on stdout; exit 0 even when it will not fit (the warning says what to change)."""
    from forgellm_tui.core.training import estimate

    for line in estimate(cfg).lines():
        print(line)
    return 0


def _train(args, cfg, notify: str = "off") -> int:
    from forgellm_tui.core.training import TrainingControl, train
    from .train_progress import Printer

    control = TrainingControl()
    printer = Printer(verbose=args.verbose, notify=notify)
    batch = tuple(int(n) for n in args.restart_batch.split(",")) if args.restart_batch else None
    previous = install_signals(control, printer)
    try:
        result = train(cfg, printer, control, resume_from=Path(args.resume) if args.resume else None,
                       run_dir=Path(args.start_run) if args.start_run else None, batch=batch,
                       on_open=_reporter(args.supervised))
    finally:
        restore_signals(previous)
    printer.summary(result)
    return 1 if result.status == "failed" else 0


def _supervises(args) -> bool:
    """Train in a supervised child: when run as the program, unless this is that child or opted out."""
    return bool(getattr(args, "program", False)) and args.supervised is None \
        and not os.environ.get("FORGELLM_NO_SUPERVISOR")


def _supervise(args, settings) -> int:
    """Run the same command as a child under ``Supervisor``; restarts continue the child's run folder."""
    from forgellm_tui.core.training import Supervisor, resume_target

    base = [sys.executable, "-m", "forgellm_tui", "--workspace", str(settings.workspace), "train"]
    first = sys.argv[1:]   # this very command line, arguments before ``train`` included

    def command(restart, fd: int) -> list[str]:
        if restart is None:
            return [sys.executable, "-m", "forgellm_tui", *first, "--supervised", str(fd)]
        folder = str(supervisor.run_dir)
        if restart.checkpoint is None:
            rest = ["--start-run", folder]
        elif args.resume:   # the user's config and overrides again; a new run's are in its config.yaml
            rest = [*([str(Path(args.config).resolve())] if args.config else []), "--resume", folder,
                    *(x for item in args.overrides for x in ("--set", item))]
        else:
            rest = ["--resume", folder]
        batch = f"{restart.batch_size},{restart.grad_accumulation_steps}"
        return [*base, *rest, *(["--verbose"] if args.verbose else []), "--restart-batch", batch,
                "--supervised", str(fd)]

    known = Path(args.start_run) if args.start_run else resume_target(Path(args.resume)) if args.resume else None
    supervisor = Supervisor(command, known)
    return supervisor.run()


def _reporter(fd: int | None):
    """``on_open`` of a supervised child: the run folder, written once on the supervisor's pipe."""
    if fd is None:
        return None

    def report(run_dir: Path) -> None:
        try:
            os.write(fd, f"{run_dir}\n".encode())
            os.close(fd)
        except OSError:   # the supervisor is gone: train on regardless
            pass

    return report


def _detach(args, cfg, settings) -> int:
    from forgellm_tui.core.training import start_detached

    extra = [x for item in args.overrides for x in ("--set", item)]
    if args.hosts or args.hostfile:
        extra += ["--hosts", args.hosts] if args.hosts else ["--hostfile", args.hostfile]
    started = start_detached(cfg, settings, resume_from=Path(args.resume) if args.resume else None,
                             config=Path(args.config) if args.resume and args.config else None, extra=extra)
    print(started.run_dir)
    print(f"started in the background (pid {started.pid}); output: {started.log}", file=sys.stderr)
    print(f"follow it: forgellm-tui --workspace {settings.workspace} (Training screen) or tail -f {started.log}",
          file=sys.stderr)
    return 0
