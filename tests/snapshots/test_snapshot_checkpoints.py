"""Snapshots of the Checkpoints screen at 80×24 on hand-written run folders (fixed numbers and dates).

Same conventions as ``test_snapshots.py``: Textual 8.2.8 only, ``HOME`` set so the status bar shows
``~/ws``. Update after a deliberate change with ``--snapshot-update`` and look at the report first.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from publish_helpers import write_fake_run
from tui_helpers import after_keys, make_app, snapshot_textual_only

pytestmark = snapshot_textual_only
README = """# cpt-run-it40

A CPT fine-tune of `models/base/forge-tiny`.

## Checkpoint

Fused checkpoint: **iteration 40** (`best`).
"""


@pytest.fixture
def snap_workspace(tmp_path, monkeypatch) -> Path:
    ws = tmp_path / "ws"
    model = ws / "models/base/forge-tiny"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(struct.pack("<Q", 8) + b"{}      ")  # a valid, empty safetensors file
    (model / "tokenizer.json").write_text("{}")
    curve = {0: 3.2, 20: 2.6, 40: 2.31, 60: 2.35, 80: 2.52}
    write_fake_run(ws, "cpt-run", val=curve, train={10: 2.9, 20: 2.55, 30: 2.3, 40: 2.1, 50: 1.9, 60: 1.7,
                                                     70: 1.5, 80: 1.3},
                   checkpoints=(20, 40, 60, 80), best=40, model="models/base/forge-tiny")
    write_fake_run(ws, "ift-run", kind="ift", val={0: 2.9, 25: 2.2, 50: 1.95}, train={25: 2.3, 50: 1.9},
                   checkpoints=(25, 50), best=50, status="stopped", started="2026-01-14T08:00:00Z",
                   model="models/base/forge-tiny")
    published = ws / "published" / "cpt-run-it40"
    published.mkdir(parents=True)
    (published / "README.md").write_text(README)
    (published / "metadata.json").write_text(json.dumps({"run": "cpt-run", "checkpoint_iteration": 40}))
    monkeypatch.setenv("HOME", str(tmp_path))
    return ws


def test_checkpoints_screen(snap_compare, snap_workspace):
    run_before = after_keys("4")
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)


def test_checkpoints_compare(snap_compare, snap_workspace):
    run_before = after_keys("4", ("space", "down", "space", "c"))
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)
