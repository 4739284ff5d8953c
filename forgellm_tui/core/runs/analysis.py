"""What the Checkpoints screen shows about runs: table rows, one run's checkpoints ranked, comparisons.

Built on the engine's ``runs.py`` (run.json, metrics) and ``ranking.py``; no MLX, no Textual, so
it runs in a thread worker and in tests on hand-written run folders.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs.evals import EvalScore, EvalSummary, read_evals
from forgellm_tui.core.runs.ranking import OverfitSignal, detect_overfitting, split_series
from forgellm_tui.core.runs.admin import protected_reason
from forgellm_tui.core.runs.lookup import (best_checkpoint, incomplete_checkpoints, list_checkpoints, ranked_checkpoints,
                              resolve_base_model)
from forgellm_tui.core.runs.reader import (RunInfo, is_run_folder, list_runs, metrics_warnings, read_config_text,
                                           read_metrics, run_roots)

SORT_KEYS = ("date", "name", "type", "model", "status", "iterations", "best val")


@dataclass
class CheckpointRow:
    """One checkpoint of a run as the table shows it."""

    label: str                   # "0000050" or "best"
    iteration: int
    path: Path
    validation_loss: float | None = None
    gap: float | None = None
    rank: int | None = None
    reason: str = ""
    protected: str | None = None  # why it cannot be deleted
    evaluation: EvalScore | None = None  # held-out perplexity from ``forgellm-tui eval``, when measured


@dataclass
class RunDetail:
    """Everything the screen shows for one selected run."""

    run: RunInfo
    checkpoints: list[CheckpointRow]
    train: list[tuple[int, float]]
    val: list[tuple[int, float]]
    overfit: OverfitSignal
    config_text: str | None
    base_model: Path | None
    problems: list[str] = field(default_factory=list)
    settings: str = ""                 # the hyper-parameters in one line (the run's name no longer holds them)
    evals: dict[str, EvalSummary] = field(default_factory=dict)  # eval/<checkpoint>.json by checkpoint label


def _orphan(path: Path) -> RunInfo:
    """A run folder without a readable run.json (still listed, so it can be inspected or deleted)."""
    return RunInfo(path=path, name=path.name, training_type=path.parent.name, status="unknown",
                   error="run.json is missing or unreadable")


def all_runs(settings) -> list[RunInfo]:
    """Every run (newest first), including folders whose run.json is missing or broken."""
    runs = list_runs(settings)
    known = {r.path for r in runs}
    for root in run_roots(settings):
        children = sorted(root.iterdir()) if root.is_dir() else []
        for child in children:
            if (child.is_dir() and child not in known and not fsio.is_temp_name(child)
                    and not child.name.startswith(".")
                    and (is_run_folder(child) or (child / "checkpoints").is_dir() or (child / "config.yaml").exists())):
                runs.append(_orphan(child))
    return runs


def _sort_value(run: RunInfo, key: str):
    return {"date": run.started_at or run.updated_at or "", "name": run.name.lower(), "type": run.training_type,
            "model": (run.model or "").lower(), "status": run.status, "iterations": run.iteration,
            "best val": run.best_validation_loss if run.best_validation_loss is not None else float("inf")}[key]


def sort_runs(runs: list[RunInfo], key: str = "date", reverse: bool | None = None) -> list[RunInfo]:
    """Sorted by a column of the runs table; dates newest first unless ``reverse`` says otherwise."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}")
    reverse = (key == "date") if reverse is None else reverse
    return sorted(runs, key=lambda r: (_sort_value(r, key), r.name), reverse=reverse)


def filter_runs(runs: list[RunInfo], text: str) -> list[RunInfo]:
    """Runs whose name, type, model, status or fine-tune type contain every word of ``text``."""
    words = text.lower().split()
    if not words:
        return list(runs)

    def haystack(r: RunInfo) -> str:
        return " ".join(str(x) for x in (r.name, r.training_type, r.model, r.status, r.fine_tune_type, r.data)).lower()

    return [r for r in runs if all(w in haystack(r) for w in words)]


def run_detail(run: RunInfo, settings=None) -> RunDetail:
    """The run's checkpoints in recommended order (held-out perplexity when evaluated, else validation loss, gap,
    stability) with reasons and problems."""
    path = run.path
    records, _ = read_metrics(path)
    train, val = split_series(records)
    ckpts = list_checkpoints(path)
    best = best_checkpoint(path)
    ranked = {s.iteration: s for s in ranked_checkpoints(path, records)}
    rows = []
    if best is not None:
        score = ranked.get(best.iteration)
        rows.append(CheckpointRow("best", best.iteration, best.path,
                                  score.validation_loss if score else _at(val, best.iteration),
                                  score.gap if score else None, score.rank if score else None,
                                  f"copy of checkpoint {best.iteration:07d}"
                                  + (f"; {score.reason}" if score and score.reason else ""),
                                  protected_reason(path, "best"), score.evaluation if score else None))
    for c in reversed(ckpts):
        s = ranked.get(c.iteration)
        rows.append(CheckpointRow(c.label, c.iteration, c.path, s.validation_loss if s else None,
                                  s.gap if s else None, s.rank if s else None, s.reason if s else "",
                                  protected_reason(path, c.label), s.evaluation if s else None))
    problems = [] if run.is_active else metrics_warnings(path)
    if run.error:
        problems.append(f"error: {run.error}")
    for folder, missing in incomplete_checkpoints(path):
        problems.append(f"{folder.relative_to(path).as_posix()}/ is incomplete (missing {', '.join(missing)}): "
                        "it cannot be published or resumed")
    base = None
    try:
        base = resolve_base_model(path, settings=settings)
    except ForgeError as exc:
        problems.append(str(exc.message) + (f" — {exc.hint}" if exc.hint else ""))
    if not ckpts and best is None:
        problems.append("no complete checkpoint yet: nothing to publish or chat with")
    from forgellm_tui.core.runs.lookup import read_run_config

    return RunDetail(run, rows, train, val, detect_overfitting(records), read_config_text(path), base, problems,
                     settings_line(read_run_config(path)), read_evals(path))


def settings_line(cfg: dict) -> str:
    """``lora rank 16 · lr 0.0005 · batch 8 · seq 128 · 200 iterations`` from a run's config.yaml."""
    parts = []
    tune = cfg.get("fine_tune_type")
    lora = cfg.get("lora_parameters") if isinstance(cfg.get("lora_parameters"), dict) else {}
    rank = lora.get("rank", cfg.get("lora_rank"))
    if tune:
        parts.append(f"{tune} rank {rank}" if tune != "full" and rank is not None else str(tune))
    for key, label in (("learning_rate", "lr"), ("batch_size", "batch"), ("max_seq_length", "seq")):
        if isinstance(cfg.get(key), (int, float)) and not isinstance(cfg.get(key), bool):
            parts.append(f"{label} {cfg[key]:g}")
    if cfg.get("epochs"):
        parts.append(f"{cfg['epochs']:g} epochs")
    elif isinstance(cfg.get("max_iterations"), int):
        parts.append(f"{cfg['max_iterations']:,} iterations")
    return " · ".join(parts)


def _at(val: list[tuple[int, float]], iteration: int) -> float | None:
    return next((v for it, v in val if it == iteration), None)


@dataclass
class CompareRow:
    """One run in a comparison: its summary numbers and validation curve."""

    name: str
    training_type: str
    fine_tune_type: str | None
    best_validation_loss: float | None
    best_iteration: int | None
    final_training_loss: float | None
    iterations: int
    learning_rate: float | None
    batch_size: int | None
    val: list[tuple[int, float]]


def compare_runs(runs: list[RunInfo]) -> list[CompareRow]:
    """Summary rows for runs side by side, lowest best-validation loss first."""
    from forgellm_tui.core.runs.lookup import read_run_config

    rows = []
    for run in runs:
        records, _ = read_metrics(run.path)
        train, val = split_series(records)
        best = min(((v, it) for it, v in val if it > 0), default=None) or min(((v, it) for it, v in val), default=None)
        cfg = read_run_config(run.path)
        lr, bs = cfg.get("learning_rate"), cfg.get("batch_size")
        rows.append(CompareRow(run.name, run.training_type, run.fine_tune_type, best[0] if best else None,
                               best[1] if best else None, train[-1][1] if train else None, run.iteration,
                               lr if isinstance(lr, (int, float)) else None, bs if isinstance(bs, int) else None, val))
    return sorted(rows, key=lambda r: (r.best_validation_loss is None, r.best_validation_loss or 0.0, r.name))


def headless_commands(run: RunInfo, workspace: Path, checkpoint: str = "best") -> list[tuple[str, str]]:
    """``(what, command)`` pairs to type in a shell: go to the workspace, then reproduce, resume, publish."""
    from forgellm_tui.core.runs.lookup import read_run_config

    try:
        run_dir = run.path.relative_to(workspace).as_posix()
    except ValueError:
        run_dir = str(run.path)
    config = shlex.quote(f"{run_dir}/config.yaml")
    run_dir = shlex.quote(run_dir)
    again = shlex.quote(run.name + "-again") + (" --set run_dir=null" if read_run_config(run.path).get("run_dir") else "")
    return [
        ("go to the workspace", f"cd {shlex.quote(str(workspace))}"),
        ("train a new run with the same config (same seed: same losses)", f"forgellm-tui train {config} --name {again}"),
        ("the same, in the background (output in the run's train.log)",
         f"forgellm-tui train {config} --name {again} --detach"),
        ("continue this run from its newest checkpoint", f"forgellm-tui train --resume {run_dir}"),
        ("publish a checkpoint as a standalone model", f"forgellm-tui publish {run_dir} --checkpoint {checkpoint}"),
    ]


@dataclass
class PublishedInfo:
    """A model folder in ``published/`` and what its metadata.json says about it."""

    name: str
    path: Path
    size: int
    run: str | None = None
    checkpoint_iteration: int | None = None
    published_at: str | None = None
    bits: str | None = None               # "4" or a mixed recipe's "3/6" when quantized, else None
    perplexity_change_pct: float | None = None   # test perplexity change of the quantization


def _quantized(meta: dict) -> tuple[str | None, float | None]:
    """Bits and perplexity change from metadata.json's ``quantization`` section (None, None when absent)."""
    q = meta.get("quantization")
    if not isinstance(q, dict):
        return None, None
    recipe = q.get("recipe")
    bits = recipe.replace("mixed_", "").replace("_", "/") if isinstance(recipe, str) else q.get("bits")
    change = q.get("perplexity_change_pct")
    return (str(bits) if bits is not None else None), (float(change) if isinstance(change, (int, float)) else None)


def published_models(settings) -> list[PublishedInfo]:
    """Complete published models (temporary build folders are left out), by name."""
    import json

    from forgellm_tui.core.models import dir_size

    root = Path(settings.published_dir)
    found = []
    children = sorted(root.iterdir(), key=lambda p: p.name.lower()) if root.is_dir() else []
    for folder in children:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        it = meta.get("checkpoint_iteration")
        found.append(PublishedInfo(folder.name, folder, dir_size(folder), meta.get("run"),
                                   it if isinstance(it, int) else None, meta.get("published_at"),
                                   *_quantized(meta)))
    return found
