"""What the single-process and the distributed ``train`` commands share: the config from the
arguments, and the signal handlers that stop a run after the current step."""

from __future__ import annotations

import signal
from pathlib import Path

SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def load_config_of(args, settings):
    """The config ``train`` trains: CONFIG (or the run's own on ``--resume``/``--start-run``) with
    ``--set``, ``--name`` and ``--hosts``/``--hostfile`` applied."""
    from forgellm_tui.core.config import load_config, parse_overrides
    from forgellm_tui.core.errors import ConfigError

    overrides = parse_overrides(args.overrides)
    if args.name:
        if args.resume:
            raise ConfigError("--name cannot be used with --resume", hint="the run keeps its folder name")
        overrides["name"] = args.name
    if getattr(args, "hosts", None) or getattr(args, "hostfile", None):
        if args.hosts and args.hostfile:
            raise ConfigError("use --hosts or --hostfile, not both", hint="one of them lists the machines")
        hosts = {"hosts": args.hosts, "hostfile": None} if args.hosts else \
            {"hostfile": str(Path(args.hostfile).expanduser().resolve()), "hosts": None}
        given = overrides.get("distributed")
        overrides["distributed"] = {**given, **hosts} if isinstance(given, dict) else hosts
    if args.start_run:
        return load_config(Path(args.start_run) / "config.yaml", overrides, settings)
    if args.resume:
        from forgellm_tui.core.training import resume_target

        path = Path(args.config) if args.config else resume_target(Path(args.resume)) / "config.yaml"
        return load_config(path, overrides, settings)
    if not args.config:
        raise ConfigError("no config given", hint="forgellm-tui train configs/cpt-demo.yaml (or --resume RUN_DIR)")
    return load_config(args.config, overrides, settings)


def install_signals(control, printer) -> dict:
    """SIGINT/SIGTERM/SIGHUP stop the run after this step; a second Ctrl-C aborts. The old handlers."""
    from forgellm_tui.core.runs import stop_cause as causes

    previous = {}

    def handler(signum, _frame):
        name = signal.Signals(signum).name
        if control.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        control.stop(f"stopped by {name}", causes.for_signal(name))
        printer.note(f"{name}: stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

    for name in SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread
                pass
    return previous


def restore_signals(previous: dict) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
