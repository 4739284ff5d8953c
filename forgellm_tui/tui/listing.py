"""Small read-only listings of a workspace for the screens (configs, runs, models).

Plain functions over the file system, no Textual. They are deliberately simple: the engine's
``core/runs.py`` and the chat's ``core/models.py`` will replace them with richer versions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
MODEL_MARKERS = ("config.json",) + TOKENIZER_FILES
CONFIG_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RunRow:
    """One training run folder under ``models/cpt`` or ``models/ift``."""

    name: str
    kind: str  # "cpt" | "ift"
    path: Path
    status: str
    iterations: int | None


@dataclass(frozen=True)
class ModelRow:
    """A model the app can use: a base model, a published model or a run folder."""

    name: str
    source: str  # "base" | "published" | "cpt run" | "ift run"
    path: Path
    size: int


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name.lower())
    except OSError:
        return []


def has_tokenizer(folder: Path) -> bool:
    """True when ``folder`` holds tokenizer files a Hugging Face tokenizer can load."""
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def is_model_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in MODEL_MARKERS)


def folder_size(folder: Path) -> int:
    """Total bytes of the files below ``folder`` (stat only; unreadable entries are ignored)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder, onerror=lambda _e: None):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def list_configs(configs_dir: Path) -> list[Path]:
    """YAML training configs directly in ``configs_dir``, sorted by name."""
    try:
        return sorted((p for p in configs_dir.iterdir() if p.is_file() and p.suffix in CONFIG_SUFFIXES),
                      key=lambda p: p.name.lower())
    except OSError:
        return []


def read_text(path: Path, max_chars: int = 20_000) -> str:
    """The start of a text file, or a one-line note saying why it cannot be shown."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(max_chars + 1)
    except OSError as exc:
        return f"# cannot read {path}: {exc.strerror or exc}"
    return text if len(text) <= max_chars else text[:max_chars] + "\n# … (truncated)"


def last_jsonl_record(path: Path, tail_bytes: int = 16_384) -> dict | None:
    """The last complete JSON line of a JSONL file (reads only its tail)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - tail_bytes))
            lines = fh.read().splitlines()
    except OSError:
        return None
    for raw in reversed(lines):
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line still being written
        if isinstance(record, dict):
            return record
    return None


def run_status(folder: Path) -> str:
    """Status from ``run.json`` (``running``, ``finished``, …) or a guess from the files present."""
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        if isinstance(info, dict) and info.get("status"):
            return str(info["status"])
    except (OSError, ValueError):
        pass
    if (folder / "adapters.safetensors").exists():
        return "finished?"
    return "unknown"


def run_iterations(folder: Path) -> int | None:
    record = last_jsonl_record(folder / "metrics.jsonl")
    if record is None:
        return None
    value = record.get("iteration")
    return int(value) if isinstance(value, (int, float)) else None


def list_runs(settings: Settings) -> list[RunRow]:
    """Run folders of both kinds, CPT first."""
    rows: list[RunRow] = []
    for kind, parent in (("cpt", settings.cpt_dir), ("ift", settings.ift_dir)):
        for folder in _subdirs(parent):
            rows.append(RunRow(folder.name, kind, folder, run_status(folder), run_iterations(folder)))
    return rows


def list_published(settings: Settings) -> list[ModelRow]:
    return [ModelRow(p.name, "published", p, folder_size(p)) for p in _subdirs(settings.published_dir)]


def list_models(settings: Settings) -> list[ModelRow]:
    """Base models, published models and run folders, in that order."""
    rows = [ModelRow(p.name, "base", p, folder_size(p))
            for p in _subdirs(settings.base_models_dir) if is_model_folder(p)]
    rows += list_published(settings)
    rows += [ModelRow(r.name, f"{r.kind} run", r.path, folder_size(r.path)) for r in list_runs(settings)]
    return rows


def tokenizer_models(settings: Settings) -> list[Path]:
    """Folders usable for token counting: base and published models with tokenizer files."""
    found = [p for p in _subdirs(settings.base_models_dir) if has_tokenizer(p)]
    found += [p for p in _subdirs(settings.published_dir) if has_tokenizer(p)]
    return found


def model_summary(folder: Path) -> dict[str, str]:
    """A few facts from ``config.json`` and the tokenizer config, for display."""
    facts: dict[str, str] = {}
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    for key, label in (("model_type", "architecture"), ("num_hidden_layers", "layers"),
                       ("hidden_size", "hidden size"), ("vocab_size", "vocabulary")):
        if key in config:
            facts[label] = str(config[key])
    if (folder / "adapter_config.json").exists():
        facts["weights"] = "adapter (LoRA/DoRA) on a base model"
    template = (folder / "chat_template.jinja").exists()
    if not template:
        try:
            tok = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
            template = bool(tok.get("chat_template"))
        except (OSError, ValueError):
            pass
    if is_model_folder(folder):
        facts["chat template"] = "yes (instruct)" if template else "no (base)"
    return facts
