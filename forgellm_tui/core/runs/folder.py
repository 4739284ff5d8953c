"""One run's folder: ``config.yaml``, ``run.json`` (status), ``metrics.jsonl`` and ``log.jsonl``.

Layout: ``models/<training type>/<run>/`` (cpt, ift, dpo or orpo). ``run.json`` is rewritten
atomically on every state change; metrics and log lines are appended and flushed as they happen.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ConfigError, ForgeError
from forgellm_tui.settings import RUN_FOLDERS

RUN_JSON = "run.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
LOG = "log.jsonl"
TRAIN_LOG = "train.log"   # stdout/stderr of a detached run
RESERVE = ".space-reserve"  # freed when the disk fills up, to write run.json and error.log
RESERVE_BYTES = 256 * 1024


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_run_json(path: Path) -> dict | None:
    """``run.json`` of a run folder as a dict; None when it is missing or unreadable."""
    try:
        data = json.loads((Path(path) / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def default_name(cfg, base: Path) -> str:
    """``<model>-<type>-<n>`` (``forge-tiny-cpt-3``): short enough for tables, legends and the status
    panel, and told apart by its counter (one more than the highest of that model and type in
    ``base``). The hyper-parameters are in the run's ``config.yaml`` and shown with its details."""
    model = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(cfg.model.rstrip("/")).name) or "model"
    prefix = f"{model}-{cfg.training_type}"
    pattern = re.compile(re.escape(prefix) + r"-(\d+)")
    taken = [int(m.group(1)) for p in (base.iterdir() if base.is_dir() else ()) if (m := pattern.fullmatch(p.name))]
    return f"{prefix}-{max(taken, default=0) + 1}"


def check_name(name: str) -> str:
    """A run name is one folder name under the runs folder (see ``names``)."""
    from forgellm_tui.core.names import RULE, name_problem

    problem = name_problem(name)
    if problem is not None:
        raise ConfigError(f"run name: {problem}", hint=RULE)
    return name


def choose_run_dir(cfg, settings) -> Path:
    """The folder a new run will use; refuses an explicit name that already holds a run."""
    if cfg.run_dir:
        path = Path(cfg.run_dir).expanduser()
        path = path if path.is_absolute() else settings.workspace / path
        if (path / RUN_JSON).exists():
            raise ConfigError("run folder already holds a run", path=path,
                              hint="the config's adapter_path (run_dir) chooses this folder, so --name is not "
                                   "used: change adapter_path in the config (or --set adapter_path=null to name "
                                   f"the run with --name), or continue it with --resume {path}")
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            # a run writes config.yaml, best/, checkpoints/ … there: never into a folder of other files
            raise ConfigError("run_dir is an existing folder that is not a run folder (no run.json)", path=path,
                              hint="point run_dir (adapter_path) at a new or empty folder")
        return path
    base = Path(cfg.output_dir).expanduser() if cfg.output_dir else settings.runs_dir(cfg.training_type)
    base = base if base.is_absolute() else settings.workspace / base
    if cfg.name:
        path = base / check_name(cfg.name)
        if path.exists() and any(path.iterdir()):
            raise ConfigError(f"a run named {cfg.name!r} already exists", path=path,
                              hint="choose another --name, or continue it with --resume")
        return path
    path = base / default_name(cfg, base)
    while path.exists():  # a folder made since the listing (another run starting now)
        path = base / default_name(cfg, base)
    return path


def failure_reason(exc: BaseException) -> str:
    """Why a write failed, in a few words (a full disk says so)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full"
    if isinstance(exc, ForgeError):
        return exc.message
    return getattr(exc, "strerror", None) or str(exc)


def missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _remove_new(path: Path) -> None:
    """Undo a failed ``create``: the files it wrote (the folder is its caller's)."""
    for name in (CONFIG, RUN_JSON, RESERVE):
        try:
            (path / name).unlink(missing_ok=True)
        except OSError:
            pass


class RunFolder:
    """Writes a run's status and records. Create with ``create`` (new) or ``open`` (resume)."""

    def __init__(self, path: Path, info: dict[str, Any]):
        self.path = Path(path)
        self.info = info
        self.lock = None   # the run_lock.RunLock of a run writing this folder
        self._metrics: fsio.JsonlAppender | None = None
        self._log: fsio.JsonlAppender | None = None

    @classmethod
    def create(cls, path: Path, cfg, *, status: str = "starting") -> "RunFolder":
        """A new run folder; when it cannot be written (full disk), none of its files are left behind."""
        path = Path(path)
        try:
            fsio.ensure_writable_dir(path)
            fsio.atomic_write_text(path / CONFIG, cfg.to_yaml())
            now = utc_now()
            info = {"name": path.name, "status": status, "training_type": cfg.training_type,
                    "fine_tune_type": cfg.fine_tune_type, "model": cfg.model, "data": cfg.data,
                    "created_at": now, "started_at": None, "ended_at": None, "updated_at": now,
                    "pid": os.getpid() if status == "starting" else None,  # the process that will train it
                    "host": socket.gethostname(), "iteration": 0, "max_iterations": cfg.max_iterations,
                    "best_iteration": None, "best_validation_loss": None, "last_checkpoint": None,
                    "stop_reason": None, "stop_cause": None, "error": None, "resumed_from": [], "oom_recoveries": []}
            run = cls(path, info)
            run.save()
            run.reserve_space()
        except (OSError, ForgeError) as exc:
            _remove_new(path)
            raise ForgeError(f"cannot create the run folder ({failure_reason(exc)}); nothing was left behind", path=path,
                             hint="free some disk space, or set output_dir to a folder on another disk") from None
        return run

    @classmethod
    def open(cls, path: Path) -> "RunFolder":
        info = read_run_json(path)
        if info is None:
            raise ConfigError("not a run folder (no readable run.json)", path=path,
                              hint=f"pick a folder under {RUN_FOLDERS}")
        run = cls(path, info)
        try:
            run.reserve_space()
        except OSError as exc:
            raise ForgeError(f"cannot write to the run folder ({failure_reason(exc)})", path=path,
                             hint="free some disk space, then resume again") from None
        return run

    # ------------------------------------------------------------------ space for the last words
    def reserve_space(self) -> None:
        """Hold a little disk space that ``release_space`` frees so a full disk can still record why a run failed."""
        reserve = self.path / RESERVE
        if not reserve.exists():
            fsio.atomic_write_bytes(reserve, b"\0" * RESERVE_BYTES)

    def release_space(self) -> None:
        try:
            (self.path / RESERVE).unlink(missing_ok=True)
        except OSError:
            pass

    # ------------------------------------------------------------------ run.json
    def save(self) -> None:
        self.info["updated_at"] = utc_now()
        fsio.atomic_write_json(self.path / RUN_JSON, self.info)

    def update(self, **fields: Any) -> None:
        self.info.update(fields)
        self.save()

    def started(self, max_iterations: int, earlier_seconds: float = 0.0) -> None:
        """A session starts; ``earlier_seconds``: training time before it (a resumed run's checkpoint),
        so the elapsed time shown is ``earlier_seconds`` + the time since ``started_at``."""
        self.update(status="running", pid=os.getpid(), host=socket.gethostname(), started_at=utc_now(),
                    ended_at=None, error=None, stop_reason=None, stop_cause=None, max_iterations=max_iterations,
                    earlier_seconds=round(earlier_seconds, 1))

    def ended(self, status: str, cause: str, **fields: Any) -> None:
        """The run's end: ``status``, and ``cause`` (a word of ``core/runs/stop_cause.py``) as ``stop_cause``."""
        self.update(status=status, stop_cause=cause, ended_at=utc_now(), **fields)

    # ------------------------------------------------------------------ records
    def append_metrics(self, record: dict) -> None:
        if self._metrics is None:
            self._metrics = fsio.JsonlAppender(self.path / METRICS)
        self._metrics.append(record)

    def log(self, level: str, message: str) -> None:
        if self._log is None:
            self._log = fsio.JsonlAppender(self.path / LOG, fsync=False)
        self._log.append({"timestamp": utc_now(), "level": level, "message": message})

    def truncate_metrics(self, iteration: int) -> int:
        """Drop records after ``iteration`` (written after the checkpoint a resume restarts from)."""
        self.close()
        path = self.path / METRICS
        if not path.exists():
            return 0
        records, _ = fsio.read_jsonl(path)
        kept = [r for r in records if isinstance(r.get("iteration"), int) and r["iteration"] <= iteration]
        if len(kept) != len(records) or path.read_bytes()[-1:] not in (b"\n", b""):
            import json

            fsio.atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        return len(records) - len(kept)

    def close(self) -> None:
        appenders, self._metrics, self._log = (self._metrics, self._log), None, None
        for appender in appenders:
            if appender is not None:
                try:
                    appender.close()
                except OSError:
                    pass  # every record was flushed when written; a full disk must not hide the real error

    def unlock(self) -> None:
        """Let another run write this folder (the end of this run)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def remove_leftovers(run_dir: Path) -> list[str]:
    """Remove the ``.tmp-`` files and folders a killed writer left in a run folder; names removed.

    Call it only while holding the run's lock: a live writer's temporary files look the same. A
    folder swap killed between its two renames left the previous folder as ``.tmp-NAME.old`` and
    nothing at ``NAME``: that one is put back instead.
    """
    removed = []
    for folder in (run_dir, run_dir / "checkpoints"):
        try:
            entries = sorted(p for p in folder.iterdir() if fsio.is_temp_name(p))
        except OSError:
            continue
        for entry in entries:
            original = entry.with_name(entry.name[len(fsio.TMP_PREFIX):-len(".old")])
            if entry.name.endswith(".old") and entry.is_dir() and not original.exists():
                os.replace(entry, original)
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.relative_to(run_dir).as_posix())
    return removed
