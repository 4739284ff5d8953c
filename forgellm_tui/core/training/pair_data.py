"""Preference data for training (DPO, ORPO): which kind a data folder holds, and its pairs.

A folder's kind comes from its ``manifest.json`` (``kind``: cpt, ift or preference) or, without
one, from the first line of ``train.jsonl``. Each training type takes one kind, and a mismatch is
refused before a run folder exists: preference lines also hold ``messages``, so an IFT run would
otherwise train on the prompts alone and never see an answer.
"""

from __future__ import annotations

import json
from pathlib import Path

from forgellm_tui.core.config import ConfigFieldError
from forgellm_tui.core.datasets import is_preference_line, read_manifest, read_preference_file
from forgellm_tui.core.errors import DataError

#: data kind -> how a message names it
KIND_WORDS = {"cpt": "CPT text", "ift": "IFT data", "preference": "preference data (chosen/rejected pairs)"}


def data_kind(folder: Path) -> str | None:
    """cpt, ift or preference; None when neither the manifest nor the first line says (scan_data reports it)."""
    kind = (read_manifest(folder) or {}).get("kind")
    if kind in KIND_WORDS:
        return kind
    try:
        with open(folder / "train.jsonl", encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), None)
        row = json.loads(first) if first else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(row, dict):
        return None
    if is_preference_line(row):
        return "preference"
    return "cpt" if "text" in row and not {"messages", "prompt", "completion"} & row.keys() else "ift"


def check_data_kind(cfg, folder: Path) -> None:
    """ConfigFieldError on ``data`` when the folder's kind does not fit ``training_type``."""
    kind = data_kind(folder)
    if kind is None:
        return
    wanted = cfg.training_type.upper()
    if cfg.is_preference and kind != "preference":
        raise ConfigFieldError({"data": f"{folder} is {KIND_WORDS[kind]}; {wanted} needs preference pairs "
                                        "(prepare --kind preference)"}, path=cfg.source)
    if not cfg.is_preference and kind == "preference":
        raise ConfigFieldError({"data": f"{folder} is {KIND_WORDS[kind]}; {wanted} needs "
                                        f"{'text' if wanted == 'CPT' else 'conversations'} — use training_type: dpo "
                                        "or orpo for pairs"}, path=cfg.source)


def read_pairs(folder: Path) -> tuple[list, list]:
    """The train and valid pairs of a prepared preference folder (valid may be empty)."""
    if not folder.is_dir():
        raise DataError("data folder not found", path=folder,
                        hint="set data: to a folder made by forgellm-tui prepare --kind preference")
    train_path = folder / "train.jsonl"
    if not train_path.is_file():
        raise DataError("no train.jsonl in the data folder", path=folder,
                        hint="prepare it first: forgellm-tui prepare --kind preference")
    train = read_preference_file(train_path)
    if not train:
        raise DataError("train.jsonl has no pairs", path=train_path, hint="prepare the data again with more pairs")
    valid_path = folder / "valid.jsonl"
    return train, read_preference_file(valid_path) if valid_path.is_file() else []


def tokenized_pairs(cfg, plan, tokenizer, log) -> tuple:
    """``(train, valid, notes)`` as ``PairSet``s; like ``tokenized_data``, before the run folder exists."""
    from forgellm_tui.core.preference import tokenize_pairs

    notes: list[tuple[str, str]] = []
    sets = []
    for split, records in (("train", plan.train_rows), ("valid", plan.valid_rows)):
        path = plan.data_dir / f"{split}.jsonl"
        pairs = tokenize_pairs(records, tokenizer, cfg.max_seq_length, path)
        sets.append(pairs)
        if not len(pairs):
            continue
        log(f"{split}.jsonl: {len(pairs):,} pairs, {pairs.answer_tokens:,} answer tokens the loss scores "
            f"({pairs.tokens:,} tokens read, max_seq_length {cfg.max_seq_length:,})")
        if pairs.truncated:
            notes.append(("warning", f"{path}: {pairs.truncated:,} of {len(pairs):,} pairs have an answer cut at "
                                     f"max_seq_length={cfg.max_seq_length} — raise max_seq_length"))
        if pairs.unstable:
            notes.append(("warning", f"{path}: for {pairs.unstable:,} of {len(pairs):,} pairs the chat template "
                                     "does not render the prompt as the start of the answered conversation"))
    plan.train_rows = plan.valid_rows = []  # free the records
    return sets[0], sets[1], notes
