"""Small read-only listings of a workspace for the screens: training configs, a file's text, tokenizer folders.

Plain functions over the file system, no Textual. Runs and models are listed by core
(``core/runs/reader.py``, ``core/models/discovery.py``).
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
CONFIG_SUFFIXES = (".yaml", ".yml")


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name.lower())
    except OSError:
        return []


def has_tokenizer(folder: Path) -> bool:
    """True when ``folder`` holds tokenizer files a Hugging Face tokenizer can load."""
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


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


def tokenizer_models(settings: Settings) -> list[Path]:
    """Folders usable for token counting: base and published models with tokenizer files."""
    found = [p for p in _subdirs(settings.base_models_dir) if has_tokenizer(p)]
    found += [p for p in _subdirs(settings.published_dir) if has_tokenizer(p)]
    return found
