"""The next step for someone who just opened a workspace: shown on the first screen until a run exists.

Read from the folders only (no MLX, no YAML parsing): cheap enough for a thread right after the first
frame.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings


def _any_file(folder: Path) -> bool:
    try:
        return any(p.is_file() and not p.name.startswith(".") for p in folder.rglob("*"))
    except OSError:
        return False


def _has_runs(settings: Settings) -> bool:
    from forgellm_tui.core.runs import is_run_folder, run_roots

    for root in run_roots(settings):
        try:
            if root.is_dir() and any(is_run_folder(child) for child in root.iterdir()):
                return True
        except OSError:
            continue
    return False


def _prepared(settings: Settings) -> bool:
    folder = settings.data_dir
    try:
        return folder.is_dir() and any((child / "train.jsonl").is_file() for child in folder.iterdir())
    except OSError:
        return False


def next_step(settings: Settings) -> str | None:
    """One line saying what to do next, or None once the workspace has a run."""
    from .listing import list_configs

    if _has_runs(settings):
        return None
    configs = list_configs(settings.configs_dir)
    if _prepared(settings) and configs:
        return f"next: 2 Training → pick {configs[0].name} (↑↓) → ctrl+r starts a run"
    if _prepared(settings):
        return "next: 2 Training → fill in model and data → ctrl+r starts a run"
    if _any_file(settings.dataset_dir):
        return "next: p prepares training data from dataset/, then 2 Training → ctrl+r"
    return "next: put .txt/.md files in dataset/<category>/, press r (or: forgellm-tui demo)"
