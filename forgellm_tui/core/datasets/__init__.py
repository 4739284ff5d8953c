"""Datasets: scan a ``dataset/`` folder, preview files, and prepare CPT, IFT and preference training data.

- ``io.py``: which files of a dataset folder are text, why others are skipped, text cleaning
- ``text_files.py``: reading a file as text (gzip, UTF-8/16/32 by byte-order mark, HTML)
- ``html_text.py``: HTML to training text (title, headings, paragraphs, lists, preformatted blocks)
- ``scan.py``: per-file size, words, lines and tokens, totals per category (with a cache)
- ``cpt.py``: CPT preparation: clean, chunk by the model's tokens, split by document, mix general text
- ``ift.py``: IFT preparation: validate chat JSONL, report bad lines by file and line
- ``preference.py``: preference pairs (DPO, ORPO): the accepted line formats and their checks
- ``preference_prepare.py``: preference preparation: validate pairs, split by prompt, count prompt/answer tokens
- ``kinds.py``: which kind of data a JSONL file holds (preference, IFT, CPT), to refuse the wrong one
- ``write.py``: seeded document-level splits and a shuffled JSONL writer in bounded memory
- ``types.py``: options and results of preparation (shared by CPT and IFT)

This module itself chooses CPT, IFT or preference (``prepare``) and reads a prepared folder's manifest.

Prepared data goes to ``data/<name>/``: ``train.jsonl``, ``valid.jsonl`` (omitted when empty:
mlx-lm cannot load an empty file) and ``manifest.json``. The folder is built under a temporary
name and renamed into place, so a crash or a cancel never leaves half a dataset (or damages the
previous one).
"""

from __future__ import annotations

import threading
from pathlib import Path

import importlib
from typing import TYPE_CHECKING

from forgellm_tui.core import fsio
from forgellm_tui.core.datasets.io import ROOT_CATEGORY, SkippedFile, normalize_text, printable, read_preview
from forgellm_tui.core.errors import DataError

if TYPE_CHECKING:
    from forgellm_tui.core.datasets.types import PrepareOptions, PrepareResult, Progress

#: Names served from modules that import pydantic or the tokenizer code: loaded on first use, so that the
#: app's first frame (whose widgets only need ``printable``) does not pay for them.
_LAZY = {"document_chunks": "cpt", "list_documents": "cpt", "prepare_cpt": "cpt", "ROLES": "ift",
         "check_record": "ift", "prepare_ift": "ift", "PreferenceRecord": "preference", "check_preference": "preference",
         "is_preference_line": "preference", "jsonl_kind": "kinds", "prepare_preference": "preference_prepare",
         "PairTokens": "preference_prepare", "preference_file_stats": "preference_prepare", "read_preference_file": "preference", "iter_preference_file": "preference",
         "jsonl_supervision": "ift", "CategoryTotals": "scan", "DatasetScan": "scan",
         "FileEntry": "scan", "file_stats": "scan", "scan_dataset": "scan", "MANIFEST_FORMAT": "types",
         "BadLine": "types", "PrepareCancelled": "types", "PrepareOptions": "types", "PrepareResult": "types",
         "Progress": "types"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)

__all__ = [
    "BadLine", "CategoryTotals", "PairTokens", "preference_file_stats", "DatasetScan", "FileEntry", "PrepareCancelled", "PrepareOptions",
    "PrepareResult", "PreferenceRecord", "ROLES", "ROOT_CATEGORY", "SkippedFile", "check_preference", "check_record", "check_replaceable", "document_chunks",
    "file_stats", "is_preference_line", "iter_preference_file", "jsonl_kind", "jsonl_supervision", "list_documents", "normalize_text", "prepare", "prepare_preference", "printable", "read_manifest", "read_preference_file", "read_preview",
    "scan_dataset",
]


def prepare(options: PrepareOptions, progress: Progress | None = None,
            cancel: threading.Event | None = None) -> PrepareResult:
    """Prepare CPT, IFT or preference data as ``options.kind`` says. ``progress(done, total, message)``."""
    from forgellm_tui.core.datasets.cpt import prepare_cpt
    from forgellm_tui.core.datasets.ift import prepare_ift
    from forgellm_tui.core.datasets.preference_prepare import prepare_preference

    options.validate()
    check_replaceable(options.output_dir)
    try:
        if options.kind == "cpt":
            return prepare_cpt(options, progress, cancel)
        if options.kind == "preference":
            return prepare_preference(options, progress, cancel)
        return prepare_ift(options, progress, cancel)
    except OSError as exc:  # disk full, permissions changed under us …: one clear line, nothing half-written
        raise DataError(f"cannot read or write ({exc.strerror or exc})", path=exc.filename or options.output_dir,
                        hint="check free space and permissions") from exc


def check_replaceable(folder: Path) -> None:
    """Refuse to replace ``folder`` unless it is missing, empty, or prepared data (our manifest).

    Preparing swaps the whole output folder for the new one, so anything else there would be lost.
    """
    from forgellm_tui.core.datasets.types import MANIFEST_FORMAT

    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_dir() and not folder.is_symlink():
        manifest = read_manifest(folder)
        if (manifest or {}).get("format") == MANIFEST_FORMAT or not any(folder.iterdir()):
            return
    raise DataError("exists and is not a prepared-data folder (no manifest.json of ours); it is left as it is",
                    path=folder, hint="choose another --name, or move that folder away first")


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a prepared-data folder, or None when there is none (or it is unreadable)."""
    return fsio.read_json_object(Path(folder) / "manifest.json")
