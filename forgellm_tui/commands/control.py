"""``forgellm-tui control RUN [--set KEY=VALUE ...] [pause|resume|stop|save]``: steer a run that trains
in another process (a headless ``train``, a background run, the app).

The request goes through the run folder (``control.json``); the training loop takes it between two
steps and answers. ``--set`` changes live settings (``lr_scale``, ``steps_per_eval``, ``save_every`` …),
checked like the config before anything is sent. Without ``--set`` or an action it prints the live
settings and their current values. Exit status: 0 done, 2 refused (bad value, a key that cannot change
live, a run that is not training), 1 no answer in time.
"""

from __future__ import annotations

import sys
from pathlib import Path

ACTIONS = ("pause", "resume", "stop", "save")


def register(sub) -> None:
    p = sub.add_parser("control", help="change a running run's settings, or pause/resume/stop/save it")
    p.add_argument("run", metavar="RUN", help="the run folder (models/<cpt|ift|dpo|orpo>/NAME)")
    p.add_argument("action", nargs="?", choices=ACTIONS, help="pause, resume, stop, or save a checkpoint now")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change a live setting between two steps (repeatable); keys: lr_scale, max_iterations, "
                        "steps_per_report, steps_per_eval, save_every, early_stopping_patience, "
                        "min_loss_improvement, overfitting_threshold (and sample_every where the config has it)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the run's answer (default 30)")
    p.set_defaults(handler=run)


def _run_dir(text: str, args) -> Path:
    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.runs import is_run_folder
    from . import settings_from

    path = Path(text).expanduser()
    if not is_run_folder(path):
        settings = settings_from(args)
        for root in settings.run_roots:
            if is_run_folder(root / text):
                return root / text
        raise ForgeError("not a run folder (no run.json)", path=path, hint="give a run folder, e.g. models/cpt/NAME")
    return path


def run(args) -> int:
    from forgellm_tui.core.config import parse_overrides
    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.training import ask, folder_values

    run_dir = _run_dir(args.run, args)
    if args.overrides and args.action:
        raise ForgeError("give either --set KEY=VALUE or an action, not both", hint="send them one after the other")
    if not args.overrides and not args.action:
        for key, value in folder_values(run_dir).items():
            print(f"{key} = {value}")
        return 0
    action = "set" if args.overrides else args.action
    values = parse_overrides(args.overrides) if args.overrides else None
    try:
        result = ask(run_dir, action, values, args.timeout)
    except ForgeError as exc:
        if action == "stop" and "not training now" in exc.message:
            return _stop_by_signal(run_dir, exc)
        if "did not answer" in exc.message:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    if not result.get("ok"):
        print(f"error: {run_dir.name}: {result.get('message')}", file=sys.stderr)
        return 2
    print(f"{run_dir.name}: {result.get('message')}")
    return 0


def _stop_by_signal(run_dir: Path, refused) -> int:
    """A run whose loop does not read requests yet (loading, restarting) is stopped by a signal."""
    from forgellm_tui.core.runs import request_stop

    pid = request_stop(run_dir)
    if pid is None:
        raise refused
    print(f"{run_dir.name}: asked process {pid} to stop (SIGTERM; it saves a checkpoint)")
    return 0
