"""``forgellm-tui runs [--json]``: the workspace's training runs with status and best validation loss."""

from __future__ import annotations

import json

from . import settings_from


def register(sub) -> None:
    p = sub.add_parser("runs", help="list training runs (status, iterations, best validation loss)")
    p.add_argument("--json", action="store_true", help="print JSON (one list) instead of a table")
    p.set_defaults(handler=run)


def _num(value, fmt: str = "{:.4f}") -> str:
    return fmt.format(value) if value is not None else "-"


def run(args) -> int:
    from forgellm_tui.core.runs import UNREADABLE, list_runs

    settings = settings_from(args)
    runs = list_runs(settings)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print(f"no runs in {settings.cpt_dir} or {settings.ift_dir}")
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
