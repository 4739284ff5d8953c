"""Pilot test of the Datasets screen with preference data: a file of chosen/rejected pairs is labelled as
such, and ``p`` on it offers (and prepares) kind preference, at 80x24."""

from __future__ import annotations

import json

import pytest
from textual.widgets import RadioButton

from forgellm_tui.tui.dialogs import PrepareDialog
from forgellm_tui.tui.screens import DatasetsScreen
from forgellm_tui.tui.widgets import DatasetTree
from tui_helpers import SIZE, make_app, screen_text, settle

pytestmark = pytest.mark.usefixtures("mlx_exit")
PAIRS_FILE = "preference/stdlib_prefs.jsonl"


async def _highlight(app, pilot, rel: str, limit: int = 80) -> None:
    """Move down the tree (opening the folder on the way) until the file ``rel`` is highlighted."""
    tree = app.screen.query_one(DatasetTree)
    tree.focus()
    for _ in range(limit):
        info = tree.cursor_node.data if tree.cursor_node is not None else None
        if info is not None and info.rel == rel:
            return
        if info is not None and info.kind != "file" and rel.startswith(info.rel + "/") and not tree.cursor_node.is_expanded:
            await pilot.press("space")
        else:
            await pilot.press("down")
        await pilot.pause()
    raise AssertionError(f"{rel} never highlighted")


async def test_a_preference_file_is_labelled_and_prepared_as_preference(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _highlight(app, pilot, PAIRS_FILE)
        await settle(app, pilot)
        assert "preference pairs (chosen/rejected)" in screen_text(app)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PrepareDialog)
        assert app.screen.query_one("#kind-preference", RadioButton).value
        assert "Preference pairs" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DatasetsScreen)
        out = small_workspace / "data" / "preference-forge-tiny"
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["kind"] == "preference"
        assert manifest["settings"]["preference_input"] == str(small_workspace / "dataset" / PAIRS_FILE)
        pairs = len((small_workspace / "dataset" / PAIRS_FILE).read_text().splitlines())
        assert manifest["totals"]["pairs"] == pairs
        text = screen_text(app)
        assert "prepared PREFERENCE data" in text and "pairs" in text
        assert f"{manifest['totals']['train_records']:,}" in text
