"""Pilot tests of the Datasets screen: prepare from the keyboard, and bad input that must not break the app."""

from __future__ import annotations

import json

import pytest

from forgellm_tui.tui.dialogs import PathDialog, PrepareDialog
from forgellm_tui.tui.screens import DatasetsScreen, TrainingScreen
from forgellm_tui.tui.widgets import DatasetTree, SkippedTable
from tui_helpers import SIZE, make_app, notifications, screen_text, settle


pytestmark = pytest.mark.usefixtures("mlx_exit")


async def _focus(app, pilot, widget_id: str, limit: int = 12) -> None:
    """Press tab until ``widget_id`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if app.focused is not None and app.focused.id == widget_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{widget_id} (focused: {app.focused})")


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_prepare_cpt_from_the_keyboard(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PrepareDialog)
        await _focus(app, pilot, "prepare-target")
        await pilot.press("ctrl+u", *"128")
        await _focus(app, pilot, "prepare-name")
        await pilot.press("ctrl+u", *"kb-cpt", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DatasetsScreen)
        out = small_workspace / "data" / "kb-cpt"
        train, valid = _lines(out / "train.jsonl"), _lines(out / "valid.jsonl")
        assert train and valid and all("text" in r for r in train)
        text = screen_text(app)
        assert "prepared" in text and "kb-cpt" in text
        assert f"{len(train):,}" in text and f"{len(valid):,}" in text  # train/valid record counts shown


async def test_prepare_ift_from_the_keyboard(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("down", "enter")  # kind: IFT (the radio set has the focus)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        out = small_workspace / "data" / "ift-forge-tiny"
        records = _lines(out / "train.jsonl")
        assert records and all("messages" in r or "prompt" in r for r in records)
        assert "IFT" in screen_text(app)


async def test_missing_dataset_folder_keeps_the_app_usable(tmp_path):
    app = make_app(tmp_path / "nowhere")
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(app, pilot)
        errors = [n for n in notifications(messages) if n.severity == "error"]
        assert errors and "dataset" in errors[0].message
        assert "\n" not in errors[0].message  # one line
        assert "No dataset" in screen_text(app)
        await pilot.press("2")
        await settle(app, pilot)
        assert isinstance(app.screen, TrainingScreen)
        await pilot.press("1", "p")  # prepare on a missing folder: a message, not a crash
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DatasetsScreen)
        assert len([n for n in notifications(messages) if n.severity == "error"]) >= 2
        assert app.is_running


async def test_empty_dataset_folder_says_so(tmp_path):
    (tmp_path / "dataset").mkdir()
    app = make_app(tmp_path)
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(app, pilot)
        notes = notifications(messages)
        assert any("no text files" in n.message for n in notes)
        assert "No text files yet" in screen_text(app)


async def test_binary_and_bad_files_are_listed_as_skipped(small_workspace):
    (small_workspace / "dataset" / "core" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (small_workspace / "dataset" / "core" / "latin1.txt").write_bytes("caf\xe9 cr\xe8me br\xfbl\xe9e\n".encode("latin-1"))
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(SkippedTable)
        rows = {table.get_row_at(i)[0]: table.get_row_at(i)[1] for i in range(table.row_count)}
        assert "core/image.png" in rows and rows["core/image.png"]
        await pilot.press("s")
        await pilot.pause()
        text = screen_text(app)
        assert "Skipped (" in text and "image.png" in text
        files = {f.rel for f in app.screen.scan.files}
        assert "core/image.png" not in files


async def test_odd_names_and_links_are_one_row_each_with_a_reason(small_workspace):
    core = small_workspace / "dataset" / "core"
    (core / "two\nlines.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (core / "gone.txt").symlink_to("nowhere.txt")
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(SkippedTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert rows["core/two\\nlines.png"].startswith("binary file (.png)")
        assert rows["core/gone.txt"].startswith("dangling link")
        assert not any("\n" in name for name in rows)


async def test_model_folder_without_tokenizer_is_refused(small_workspace):
    empty_model = small_workspace / "models" / "no-tokenizer"
    empty_model.mkdir(parents=True)
    (empty_model / "config.json").write_text('{"model_type": "llama"}')
    app = make_app(small_workspace)
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(app, pilot)
        before = app.screen.scan.tokenizer_used
        await pilot.press("m")  # opens the model list
        await pilot.pause()
        await pilot.press("end", "enter")  # last entry: "other folder…"
        await pilot.pause()
        assert isinstance(app.screen, PathDialog)
        # the field starts with the models folder: type the rest of the path
        await pilot.press("end", *empty_model.name, "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DatasetsScreen)
        errors = [n for n in notifications(messages) if n.severity == "error"]
        assert errors and str(empty_model) in errors[-1].message and "tokenizer" in errors[-1].message
        assert app.screen.scan.tokenizer_used == before
        assert app.screen.query_one(DatasetTree).root.children  # the tree is still there


async def test_non_writable_output_folder_gives_a_message(small_workspace):
    blocker = small_workspace / "not-a-folder"
    blocker.write_text("a file where the data folder should be\n")
    app = make_app(small_workspace, env={"FORGELLM_DATA_DIR": str(blocker)})
    messages: list = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        errors = [n for n in notifications(messages) if n.severity == "error"]
        assert errors and "not-a-folder" in errors[-1].message
        assert "prepare failed" in screen_text(app)
        assert blocker.read_text() == "a file where the data folder should be\n"  # nothing damaged
        await pilot.press("2")
        await settle(app, pilot)
        assert isinstance(app.screen, TrainingScreen)


async def test_prepare_ift_shows_supervised_tokens_of_every_assistant_turn(small_workspace):
    """Three-answer chats: the summary shows the tokens the loss will see per split and in total (every
    assistant turn under the model's chat template), next to the token counts, within 80x24."""
    turns = [("What is a bucket?", "Rows sorted by length."), ("And a shard?", "A rank's share."),
             ("And a pad?", "Zeros after the end.")]
    rows = [{"messages": [m for q, a in turns for m in ({"role": "user", "content": f"{q} {i}"},
                                                        {"role": "assistant", "content": a})]} for i in range(40)]
    (small_workspace / "dataset" / "ift" / "three_turns.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("down", "enter")  # kind: IFT
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        manifest = json.loads((small_workspace / "data" / "ift-forge-tiny" / "manifest.json").read_text())
        sup = manifest["supervision"]["splits"]
        assert manifest["supervision"]["train_on"] == "assistant"
        assert 0 < sup["train"]["supervised"] < sup["train"]["tokens"]
        text = screen_text(app)
        assert "supervised" in text
        assert f"{sup['train']['supervised']:,}" in text and f"{sup['valid']['supervised']:,}" in text
        assert f"{sup['train']['supervised'] + sup['valid']['supervised']:,}" in text
