"""``forgellm-tui runs [--json]``: the workspace's training runs with status and best validation loss.

``forgellm-tui runs RUN --csv`` prints the run's metrics (``metrics.jsonl``) as CSV on stdout,
``--csv --eval`` its evaluations (``eval/*.json``), ``--md`` both as Markdown tables; RUN is a run
folder or a run name. ``--save`` writes all three into ``RUN/export/`` and prints where.
"""

from __future__ import annotations

import json

from . import settings_from


def register(sub) -> None:
    p = sub.add_parser("runs", help="list training runs (status, iterations, best validation loss)")
    p.add_argument("run", nargs="?", metavar="RUN", help="a run folder or name: export its metrics (with --csv/--md)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON (one list) instead of a table")
    form.add_argument("--csv", action="store_true", help="print RUN's metrics as CSV (with --eval: its evaluations)")
    form.add_argument("--md", action="store_true", help="print RUN's metrics and evaluations as Markdown tables")
    form.add_argument("--save", action="store_true", help="write RUN/export/metrics.csv, eval.csv and metrics.md")
    p.add_argument("--eval", action="store_true", help="with --csv: the evaluations instead of the metrics")
    p.set_defaults(handler=run)


def export(args, settings) -> int:
    """``runs RUN --csv|--md|--save``."""
    import sys

    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.runs import eval_rows, find_run, markdown_report, metrics_rows, to_csv, write_exports

    if not args.run:
        raise ForgeError("--csv, --md and --save export one run", hint="name it: forgellm-tui runs RUN --csv")
    if not (args.csv or args.md or args.save):
        raise ForgeError(f"runs {args.run}: say how to export it", hint=f"forgellm-tui runs {args.run} --csv "
                                                                          "(or --md, --save)")
    if args.eval and not args.csv:
        raise ForgeError("--eval picks the evaluations table of --csv", hint="use it as runs RUN --csv --eval")
    run_dir = find_run(settings, args.run)
    if args.save:
        for path in write_exports(run_dir):
            print(path)
        return 0
    if args.md:
        sys.stdout.write(markdown_report(run_dir))
        return 0
    columns, rows = eval_rows(run_dir) if args.eval else metrics_rows(run_dir)
    if args.eval and not rows:
        raise ForgeError("the run has no evaluations (eval/*.json)", path=run_dir,
                         hint=f"evaluate it first: forgellm-tui eval {run_dir}")
    sys.stdout.write(to_csv(columns, rows))
    return 0


def _num(value, fmt: str = "{:.4f}") -> str:
    return fmt.format(value) if value is not None else "-"


def run(args) -> int:
    from forgellm_tui.core.runs import UNREADABLE, list_runs

    settings = settings_from(args)
    if args.csv or args.md or args.save or args.eval or args.run:
        return export(args, settings)
    runs = list_runs(settings)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print(f"no runs in {', '.join(str(root) for root in settings.run_roots)}")
        return 0
    rows = [("NAME", "TYPE", "STATUS", "ITER", "BEST VAL", "AT", "LAST TRAIN", "STARTED")]
    for r in runs:
        rows.append((r.name, r.training_type, r.status, f"{r.iteration}/{r.max_iterations or '?'}",
                     _num(r.best_validation_loss), str(r.best_iteration or "-"), _num(r.last_training_loss),
                     (r.started_at or "-").replace("T", " ").rstrip("Z")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for r in runs:
        if r.status == UNREADABLE:
            print(f"{r.name}: {r.error}")
    return 0
