"""A run's metrics (``metrics.jsonl``) and evaluations (``eval/*.json``) as CSV and Markdown tables.

CSV is for spreadsheets and scripts: one row per metrics record, one column per key in the order
the records first use them; numbers are written with Python's ``repr`` (the shortest text that reads
back as the same float), an absent value as an empty cell. Markdown is for notes and issues: the
metrics table and, when the run was evaluated, the evaluations table, numbers rounded for reading.
``write_exports`` writes them all into ``RUN/export/`` (what the Checkpoints screen's export key does).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs.evals import read_eval_results
from forgellm_tui.core.runs.folder import METRICS
from forgellm_tui.core.runs.reader import is_run_folder, list_runs, read_metrics

EXPORT_DIR = "export"
METRICS_CSV, EVAL_CSV, REPORT_MD = "metrics.csv", "eval.csv", "metrics.md"
#: the evaluation numbers of one checkpoint, as columns (tasks add ``<task> acc`` columns)
EVAL_COLUMNS = ("checkpoint", "iteration", "split", "tokens", "loss", "perplexity", "base_perplexity",
                "perplexity_change_pct", "evaluated_at")


def find_run(settings, text: str) -> Path:
    """The run folder ``text`` names: a path (to a run folder), or a run's name in the workspace."""
    path = Path(text).expanduser()
    for candidate in (path, settings.workspace / path):
        if is_run_folder(candidate):
            return candidate.resolve()
    matches = [r.path for r in list_runs(settings, with_metrics=False) if r.name == text]
    if not matches:
        raise ForgeError(f"no run folder named {text!r}", hint="give a run folder or a name that forgellm-tui runs lists")
    return matches[0]


def metrics_rows(run_dir: Path) -> tuple[list[str], list[dict]]:
    """The columns (keys in order of first use) and the records of the run's metrics.jsonl."""
    if not (Path(run_dir) / METRICS).is_file():
        raise ForgeError("the run has no metrics.jsonl yet (nothing to export)", path=run_dir)
    records, _ = read_metrics(Path(run_dir))
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return list(columns), records


def eval_rows(run_dir: Path) -> tuple[list[str], list[dict]]:
    """One row per evaluated checkpoint (``eval/<checkpoint>.json``), oldest iteration first."""
    rows, tasks = [], {}
    for label, result in read_eval_results(run_dir).items():
        mine = result.get("perplexity") or {}
        data = result.get("data") or {}
        row = {"checkpoint": label, "iteration": result["iteration"],
               "split": Path(data["path"]).stem if isinstance(data.get("path"), str) else None,
               "tokens": mine.get("tokens"), "loss": mine.get("loss"), "perplexity": mine.get("perplexity"),
               "base_perplexity": ((result.get("base") or {}).get("perplexity") or {}).get("perplexity"),
               "perplexity_change_pct": (result.get("change") or {}).get("perplexity_pct"),
               "evaluated_at": result.get("created_at")}
        for name, scores in (result.get("tasks") or {}).items():
            if isinstance(scores, dict):
                tasks[f"{name} acc"] = None
                row[f"{name} acc"] = scores.get("acc")
        rows.append(row)
    rows.sort(key=lambda r: r["iteration"])
    return [*EVAL_COLUMNS, *tasks], rows


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _md_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value).replace("|", "\\|")


def to_markdown(columns: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_md_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_report(run_dir: Path) -> str:
    """``# <run>``, the metrics table and (when the run was evaluated) the evaluations table."""
    columns, rows = metrics_rows(run_dir)
    text = f"# {Path(run_dir).name}\n\n## Metrics ({len(rows)} records)\n\n{to_markdown(columns, rows)}"
    eval_columns, evals = eval_rows(run_dir)
    if evals:
        text += f"\n## Evaluations ({len(evals)} checkpoints)\n\n{to_markdown(eval_columns, evals)}"
    return text


def write_exports(run_dir: Path) -> list[Path]:
    """``RUN/export/metrics.csv``, ``eval.csv`` (when evaluated) and ``metrics.md``, written atomically."""
    folder = Path(run_dir) / EXPORT_DIR
    columns, rows = metrics_rows(run_dir)
    files = [(METRICS_CSV, to_csv(columns, rows))]
    eval_columns, evals = eval_rows(run_dir)
    if evals:
        files.append((EVAL_CSV, to_csv(eval_columns, evals)))
    files.append((REPORT_MD, markdown_report(run_dir)))
    folder.mkdir(exist_ok=True)
    return [fsio.atomic_write_text(folder / name, text) for name, text in files]
