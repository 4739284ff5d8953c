"""Read run folders written by the training engine (list, status, metrics, log) without MLX.

Safe on folders that are being written: ``read_metrics`` skips a truncated last line, and a run
whose ``run.json`` says running but whose process is gone is reported as ``interrupted``. A run's
``stop_cause`` is the one ``run.json`` records, or for a run written before that field existed the
one its free-text reason shows.
"""

from __future__ import annotations

import json
import math
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forgellm_tui.core import fsio
from forgellm_tui.core.runs.folder import CONFIG, LOG, METRICS, RUN_JSON, read_run_json
from forgellm_tui.core.runs import stop_cause as causes
from forgellm_tui.core.runs.lock import pid_alive

INTERRUPTED = "interrupted"  # running/paused in run.json, but the process is gone
UNREADABLE = "unreadable"    # run.json is not JSON or has a field of the wrong type


@dataclass
class RunInfo:
    path: Path
    name: str
    training_type: str
    status: str
    fine_tune_type: str | None = None
    model: str | None = None
    data: str | None = None
    iteration: int = 0
    max_iterations: int | None = None
    best_iteration: int | None = None
    best_validation_loss: float | None = None
    last_training_loss: float | None = None
    last_validation_loss: float | None = None
    checkpoints: list[int] = field(default_factory=list)
    has_best: bool = False
    started_at: str | None = None
    ended_at: str | None = None
    updated_at: str | None = None
    pid: int | None = None
    error: str | None = None
    stop_reason: str | None = None
    stop_cause: str | None = None
    """Why the run ended (a word of ``core/runs/stop_cause.py``); None while it has not ended."""

    @property
    def is_active(self) -> bool:
        return self.status in ("starting", "running", "paused", "stopping")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def is_run_folder(path: Path) -> bool:
    return (Path(path) / RUN_JSON).is_file()


def process_alive(pid: int | None, host: str | None = None) -> bool | None:
    """True/False for a pid on this host; None when it cannot be told (another host)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if host and host != socket.gethostname():
        return None
    return pid_alive(pid)


def read_metrics(path: Path, start: int = 0) -> tuple[list[dict], int]:
    """Records of ``metrics.jsonl`` from byte ``start`` (a run folder or the file itself).

    Returns ``(records, next_offset)``; a truncated last line is left for the next call. When the
    file shrank below ``start`` (a resume rewrote it), reading restarts at 0.
    """
    path = Path(path)
    file = path / METRICS if path.is_dir() else path
    try:
        size = file.stat().st_size
    except OSError:
        return [], 0
    if start > size:
        start = 0
    return fsio.read_jsonl(file, start=start)


def metrics_warnings(run_dir: Path) -> list[str]:
    """What is wrong with the run's metrics.jsonl (missing, partial last line, unreadable lines)."""
    path = Path(run_dir) / METRICS
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ["metrics.jsonl is missing: the model card has no loss summary or checkpoint ranking"]
    except OSError as exc:
        return [f"metrics.jsonl cannot be read ({exc.strerror}): no loss summary"]
    notes = []
    lines = [ln for ln in data.splitlines() if ln.strip()]
    if data and not data.endswith(b"\n"):
        notes.append("metrics.jsonl ends with a partial line (left out)")
        lines = lines[:-1]
    bad = 0
    for line in lines:
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        bad += not ok
    if bad:
        notes.append(f"metrics.jsonl has {bad} unreadable line(s) (left out)")
    if not lines:
        notes.append("metrics.jsonl holds no records: no loss summary")
    return notes


def read_log(path: Path, start: int = 0) -> tuple[list[dict], int]:
    """The run's log lines (``{"timestamp", "level", "message"}``) from byte ``start``."""
    file = Path(path) / LOG
    if not file.exists():
        return [], 0
    return fsio.read_jsonl(file, start=start)


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


#: run.json fields and the types they must have (a wrong type makes the run "unreadable", never a crash)
_INT_FIELDS = ("iteration", "max_iterations", "best_iteration", "pid")
_TEXT_FIELDS = ("name", "training_type", "status", "fine_tune_type", "model", "data", "started_at", "ended_at",
                "updated_at", "error", "stop_reason", "stop_cause", "host")


def _checked_fields(info: dict) -> tuple[dict, list[str]]:
    """run.json's fields with wrongly typed ones left out, and a note for each one left out."""
    good, problems = {}, []
    for key in _INT_FIELDS + _TEXT_FIELDS + ("best_validation_loss",):
        value = info.get(key)
        if key in _INT_FIELDS:
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
        elif key in _TEXT_FIELDS:
            ok = value is None or isinstance(value, str)
        else:
            ok = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
        if ok:
            good[key] = value
        else:
            shown = repr(value) if len(repr(value)) <= 30 else repr(value)[:27] + "..."
            kind = "a whole number" if key in _INT_FIELDS else "text" if key in _TEXT_FIELDS else "a number"
            problems.append(f"field {key!r} is {shown}, not {kind}")
    return good, problems


def _unreadable(path: Path, problem: str, info: dict | None = None) -> RunInfo:
    info = info or {}
    return RunInfo(path=path, name=info.get("name") or path.name,
                   training_type=info.get("training_type") or path.parent.name, status=UNREADABLE,
                   model=info.get("model"), data=info.get("data"), started_at=info.get("started_at"),
                   updated_at=info.get("updated_at"),
                   error=f"{path / RUN_JSON}: {problem} — fix or delete that field (or delete the run)")


def _cause(raw: dict, info: dict, status: str) -> str | None:
    """The recorded cause; derived from the text of a run.json without the field (written before it existed)."""
    if status == INTERRUPTED:
        return causes.INTERRUPTED
    if "stop_cause" in raw:
        return info.get("stop_cause")
    return causes.from_old_record(status, info.get("stop_reason"), info.get("error"))


def read_run(path: Path, with_metrics: bool = True) -> RunInfo | None:
    """A run folder's summary, or None when it is not a run folder.

    A ``run.json`` that is not JSON, or has a field of the wrong type, gives a run whose status is
    ``unreadable`` and whose ``error`` names the file and the field, so listings still show it.
    """
    path = Path(path)
    raw = read_run_json(path)
    if raw is None:
        return _unreadable(path, "not a JSON object") if is_run_folder(path) else None
    info, problems = _checked_fields(raw)
    if problems:
        return _unreadable(path, "; ".join(problems), info)
    status = str(info.get("status") or "unknown")
    if status in ("starting", "running", "paused", "stopping") and process_alive(info.get("pid"), info.get("host")) is False:
        status = INTERRUPTED
    run = RunInfo(path=path, name=str(info.get("name") or path.name), training_type=str(info.get("training_type") or path.parent.name),
                  status=status, fine_tune_type=info.get("fine_tune_type"), model=info.get("model"), data=info.get("data"),
                  iteration=int(info.get("iteration") or 0), max_iterations=info.get("max_iterations"),
                  best_iteration=info.get("best_iteration"), best_validation_loss=_finite(info.get("best_validation_loss")),
                  started_at=info.get("started_at"), ended_at=info.get("ended_at"), updated_at=info.get("updated_at"),
                  pid=info.get("pid"), error=info.get("error"), stop_reason=info.get("stop_reason"),
                  stop_cause=_cause(raw, info, status))
    from forgellm_tui.core.runs.checkpoints import list_complete

    run.checkpoints = [it for it, _ in list_complete(path)]
    run.has_best = (path / "best" / "adapters.safetensors").is_file()
    if with_metrics:
        records, _ = read_metrics(path)
        for rec in records:
            it = rec.get("iteration")
            if isinstance(it, int):
                run.iteration = max(run.iteration, it)
            if (t := _finite(rec.get("training_loss"))) is not None:
                run.last_training_loss = t
            if (v := _finite(rec.get("validation_loss"))) is not None:
                run.last_validation_loss = v
                if it and it > 0 and (run.best_validation_loss is None or v < run.best_validation_loss):
                    run.best_validation_loss, run.best_iteration = v, it
    return run


def run_roots(settings) -> list[Path]:
    return settings.run_roots


def list_runs(settings, with_metrics: bool = True) -> list[RunInfo]:
    """Every run under models/<training type>/ (cpt, ift, dpo, orpo) and those the run index lists
    elsewhere, newest first."""
    from forgellm_tui.core.runs.index import indexed_runs

    folders = []
    for root in run_roots(settings):
        if root.is_dir():
            folders += [c for c in root.iterdir() if c.is_dir() and not fsio.is_temp_name(c) and is_run_folder(c)]
    folders += [p for p in indexed_runs(settings) if p not in folders]
    runs: list[RunInfo] = []
    for child in folders:
        run = read_run(child, with_metrics=with_metrics)
        if run is not None:
            runs.append(run)
    return sorted(runs, key=lambda r: (r.started_at or r.updated_at or "", r.name), reverse=True)


def read_config_text(path: Path) -> str | None:
    try:
        return (Path(path) / CONFIG).read_text(encoding="utf-8")
    except OSError:
        return None
