"""What ``eval`` evaluates: a run's checkpoints over its base model, or one model folder, and on what data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from forgellm_tui.core.errors import DataError, ForgeError, ModelError
from forgellm_tui.core.runs import EVAL_DIR, Checkpoint
from forgellm_tui.core.runs import checkpoints as ck

SPLITS = ("test", "valid")


@dataclass
class Target:
    kind: str                 # "run": checkpoints over the run's base model; "model": one model folder
    path: Path                # the run folder or the model folder
    model_path: Path          # the model loaded (a run's base model)
    out_dir: Path             # where the result files go
    config: dict = field(default_factory=dict)  # the run's config.yaml ({} for a model)
    checkpoints: list[Checkpoint] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


def workspace_path(value: str | Path, settings) -> Path:
    """A path as given when it exists or is absolute, else relative to the workspace (like config paths)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() or path.exists() else settings.workspace / path


def resolve_target(value: str | Path, settings, checkpoint: str | None = None) -> Target:
    """A run folder (``models/cpt/<run>``), a model folder (published or base) or a model name."""
    from forgellm_tui.core.models import files as mf
    from forgellm_tui.core.models import resolve_base_model

    path = workspace_path(value, settings)
    if (path / "run.json").is_file() or (path / "config.yaml").is_file() and (path / "checkpoints").is_dir():
        return _run_target(path, checkpoint)
    if checkpoint is not None:
        raise ForgeError(f"--checkpoint {checkpoint} needs a run folder, but this is not one", path=path,
                         hint="give a run folder such as models/cpt/<run>, or leave out --checkpoint")
    if mf.is_model_folder(path):
        model = path
    else:
        try:
            model = resolve_base_model(str(value), settings)
        except ModelError:
            raise ModelError("not a run folder, a model folder or a known model name", path=path,
                             hint="give models/cpt/<run>, a folder under published/ or models/base/") from None
    mf.check_model_folder(model)
    return Target("model", model, model, settings.workspace / "eval")


def _run_target(run_dir: Path, which: str | None) -> Target:
    from forgellm_tui.core.runs import check_adapter, read_run_config, resolve_base_model

    checkpoints = select_checkpoints(run_dir, which or "best")
    for chosen in checkpoints:
        check_adapter(chosen.path)
    base = resolve_base_model(run_dir)
    return Target("run", run_dir, base, run_dir / EVAL_DIR, read_run_config(run_dir), checkpoints)


def select_checkpoints(run_dir: Path, which: str) -> list[Checkpoint]:
    """``best``, ``latest``, an iteration, or ``all`` (every numbered one, and ``best/`` when it is not among them)."""
    from forgellm_tui.core.runs import best_checkpoint, list_checkpoints, select_checkpoint

    if str(which).strip().lower() != "all":
        return [select_checkpoint(run_dir, which)]
    chosen = list_checkpoints(run_dir)
    best = best_checkpoint(run_dir)
    if best is not None and best.iteration not in {c.iteration for c in chosen}:
        chosen.append(best)
    if not chosen:
        raise ForgeError("run has no complete checkpoint", path=run_dir / "checkpoints",
                         hint="train until a checkpoint is saved (save_every)")
    return chosen


def split_file(target: Target, data: str | Path | None, split: str, settings) -> Path | None:
    """The JSONL file to measure perplexity on: ``--data`` (a file, or a folder's ``<split>.jsonl``), else
    the run's own data folder; None for a model without ``--data``."""
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}'", hint="use --split test or --split valid")
    if data is None:
        configured = target.config.get("data")
        if target.kind != "run" or not isinstance(configured, str) or not configured.strip():
            return None
        folder = workspace_path(configured, settings)
    else:
        folder = workspace_path(data, settings)
        if folder.is_file():
            return folder
    if not folder.is_dir():
        raise DataError("data folder not found", path=folder, hint="give --data DIR (prepared data) or FILE.jsonl")
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        hint = ("prepare the data again (forgellm-tui prepare writes test.jsonl unless --test-fraction 0), "
                "or use --split valid") if split == "test" else "give --data a folder that has valid.jsonl"
        raise DataError(f"no {split} split ({path.name} is missing)", path=folder, hint=hint)
    return path


def adapter_file(chosen: Checkpoint) -> Path:
    return chosen.path / ck.ADAPTERS
