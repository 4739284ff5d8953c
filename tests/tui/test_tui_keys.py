"""Pilot tests at 80×24 of keys around text fields, dialogs and help: a key never lands in the wrong place,
the way out of a field and of the app is always on screen, every dialog shows its keys."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from forgellm_tui.tui.dialogs import ConfirmDialog, PathDialog, PrepareDialog
from forgellm_tui.tui.dialogs.ask import AskDialog, ChoiceDialog
from forgellm_tui.tui.screens import ChatScreen, CheckpointsScreen, DatasetsScreen, TrainingScreen
from forgellm_tui.tui.screens.help import HelpScreen
from forgellm_tui.tui.widgets.prompt_input import PromptInput
from training_tui_helpers import open_training
from wait_helpers import pilot_wait_until
from tui_helpers import SIZE, make_app, screen_text, settle


pytestmark = pytest.mark.usefixtures("mlx_exit")


def footer(app) -> str:
    return screen_text(app).rstrip("\n").splitlines()[-1]


async def _in_field(app, pilot, screen, name: str) -> Input:
    screen.form.focus_field(name)
    await pilot.pause()
    await pilot.press("end")
    field = screen.query_one(f"#f-{name}", Input)
    assert app.focused is field
    return field


async def test_esc_leaves_a_form_field_and_screen_keys_work_again(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot, estimate=False)
        field = await _in_field(app, pilot, screen, "max_iterations")
        before = field.value
        assert "esc Leave field" in footer(app) and "^q Quit" in footer(app)  # the way out, while typing
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is not field and field.value == before
        assert "? Keys" in footer(app) and "q Quit" in footer(app) and "esc Leave" not in footer(app)
        await pilot.press("4")  # a screen key again, not a digit appended to the iterations
        await settle(app, pilot)
        assert isinstance(app.screen, CheckpointsScreen)
        await pilot.press("2")
        await pilot.pause()
        assert field.value == before
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_number_fields_refuse_letters_as_they_are_typed(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot, estimate=False)
        field = await _in_field(app, pilot, screen, "lora_rank")
        before = field.value
        await pilot.press("question_mark", "c", "q", "x")
        await pilot.pause()
        assert field.value == before and isinstance(app.screen, TrainingScreen)
        await pilot.press("2")
        assert field.value == before + "2"
        rate = await _in_field(app, pilot, screen, "learning_rate")
        await pilot.press("backspace", *"abc", *"2e-4")
        assert rate.value.endswith("2e-4") and "abc" not in rate.value


async def test_ctrl_q_quits_from_inside_a_field(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_training(app, pilot, estimate=False)
        await _in_field(app, pilot, screen, "name")
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_esc_leaves_the_filter_and_the_chat_prompt(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("slash", *"zz")
        assert app.focused.id == "run-filter"
        assert "esc Leave field" in footer(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused.id == "ckpt-runs" and app.screen.query_one("#run-filter", Input).value == "zz"
        await pilot.press("3")
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen)
        await pilot.press("i")
        assert isinstance(app.focused, PromptInput) and "esc Leave field" in footer(app)
        await pilot.press("escape", "1")
        await pilot.pause()
        assert isinstance(app.screen, DatasetsScreen)


async def test_help_and_quit_are_in_every_footer_at_80_columns(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key in ("1", "2", "3", "4"):
            await pilot.press(key)
            await settle(app, pilot)
            assert "? Keys" in footer(app) and "q Quit" in footer(app), footer(app)


async def test_help_says_how_to_leave_a_field_and_quit_and_that_it_scrolls(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "page 1 of" in text and "↓ pgdn more" in text
        assert "Leave a text field" in text and "^q" in text
        for _ in range(10):
            await pilot.press("pagedown")
        await pilot.pause()
        assert "end (↑ pgup back)" in screen_text(app)
        assert "Dialogs and questions" in screen_text(app)


DIALOGS = [  # (dialog, what its key line must say)
    (lambda: ConfirmDialog("Delete?", "Delete it?", yes="Delete", no="Keep", default=False),
     ["Yes, delete", "No, keep", "y / n pick", "esc cancel"]),
    (lambda: ChoiceDialog("Quit?", "A run trains.", [("y", "Yes, stop, save and quit", "stop"),
                                                     ("n", "No, stay", "stay")], default="stop"),
     ["y / n pick", "enter the highlighted one", "esc cancel"]),
    (lambda: AskDialog("Extend the run", "Add how many?", "10"), ["enter or ctrl+s accept", "esc cancel"]),
    (lambda: PathDialog("Model folder", "Folder:"), ["enter or ctrl+s accept", "esc cancel"]),
    (lambda: PrepareDialog([], None), ["ctrl+s prepare", "esc cancel"]),
]


@pytest.mark.parametrize("index", range(len(DIALOGS)))
async def test_every_dialog_shows_its_keys(small_workspace, index):
    make, shown = DIALOGS[index]
    app = make_app(small_workspace)
    answers = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(make(), answers.append)
        await pilot.pause()
        text = screen_text(app)
        for words in shown:
            assert words in text, (words, text)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DatasetsScreen) and answers in ([None], [False])


async def test_yes_no_questions_take_y_and_enter(small_workspace):
    app = make_app(small_workspace)
    answers = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(ChoiceDialog("Quit?", "A run trains.", [("y", "Yes, stop, save and quit", "stop"),
                                                                ("n", "No, stay", "stay")], default="stop"),
                        answers.append)
        await pilot.pause()
        await pilot.press("y")
        app.push_screen(ConfirmDialog("Stop the run?", "Stop it?", yes="Stop", no="Keep training"), answers.append)
        await pilot.pause()
        await pilot.press("enter")
        app.push_screen(ConfirmDialog("Delete?", "Delete it?", yes="Delete", no="Keep", default=False),
                        answers.append)
        await pilot.pause()
        await pilot.press("enter")  # deleting cannot be undone: Enter keeps
        await pilot.pause()
    assert answers == ["stop", True, False]


async def test_first_frame_says_what_to_do_next(small_workspace, workspace, tmp_path):
    (tmp_path / "empty").mkdir()
    expected = [(workspace, "next: 2 Training → pick cpt-demo.yaml (↑↓) → ctrl+r starts a run"),
                (small_workspace, "next: p prepares training data from dataset/"),
                (tmp_path / "empty", "next: put .txt/.md files in dataset/<category>/")]
    for ws, line in expected:
        app = make_app(ws)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert line in screen_text(app), ws


async def test_prepare_kind_is_shown_without_colour(small_workspace):
    app = make_app(small_workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await pilot_wait_until(pilot, lambda: isinstance(app.screen, PrepareDialog), 10)
        await pilot.pause()
        text = screen_text(app)
        assert "▐●▌ CPT text chunks" in text and "▐ ▌ IFT conversations" in text
        await pilot.press("down", "enter")  # pick IFT
        await pilot.pause()
        text = screen_text(app)
        assert "▐ ▌ CPT text chunks" in text and "▐●▌ IFT conversations" in text
