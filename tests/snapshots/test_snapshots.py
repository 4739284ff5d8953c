"""Snapshot tests (pytest-textual-snapshot) of the app at 80×24 on a tiny, fixed workspace.

The demo corpus is rendered from the running Python's own docs, so its counts differ between
Python versions; these snapshots use a handmade dataset and the GPT-2 tokenizer fixture instead.
``HOME`` points at the workspace's parent so the status bar shows ``~/ws`` on every machine.
The SVGs were made with Textual 8.2.8; other versions draw a few cells differently, so the
tests are skipped there. After a deliberate change: ``pytest tests/snapshots/test_snapshots.py
--snapshot-update``, then look at the report before keeping the new files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tui_helpers import after_keys, make_app, snapshot_textual_only

FIXTURES = Path(__file__).parents[1] / "fixtures"
TEXTS = {
    "core/forging.txt": "A forge heats metal until it can be shaped.\nThe smith hammers it on an anvil.\n" * 6,
    "core/tempering.md": "# Tempering\n\nReheating hardened steel makes it less brittle.\n" * 4,
    "notes/log.txt": "Day one: lit the forge. Day two: made a hook.\n" * 3,
}

pytestmark = snapshot_textual_only


@pytest.fixture
def snap_workspace(tmp_path, monkeypatch) -> Path:
    ws = tmp_path / "ws"
    for rel, text in TEXTS.items():
        (ws / "dataset" / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / "dataset" / rel).write_text(text, encoding="utf-8")
    (ws / "dataset" / "notes" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 8)
    shutil.copytree(FIXTURES / "tokenizers" / "gpt2-xl", ws / "models" / "base" / "gpt2-xl")
    (ws / "configs").mkdir()
    (ws / "configs" / "cpt-example.yaml").write_text("model: models/base/gpt2-xl  # base model\n"
                                                     "data: data/cpt-gpt2-xl\niters: 100\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    return ws


def test_datasets_screen(snap_compare, snap_workspace):
    run_before = after_keys("down")  # first file: its numbers and text in the preview
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)


def test_skipped_tab(snap_compare, snap_workspace):
    run_before = after_keys("s")
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)


def test_training_screen(snap_compare, snap_workspace):
    run_before = after_keys("2")
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, snap_workspace):
    run_before = after_keys("question_mark")
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)


def test_arena_screen(snap_compare, snap_workspace):
    run_before = after_keys("3", "ctrl+g")  # the Arena from Chat: two stacked panes at 80 columns, no models yet
    assert snap_compare(make_app(snap_workspace), terminal_size=(80, 24), run_before=run_before)
