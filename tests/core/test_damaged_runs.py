"""Damaged run folders of a real trained demo run: publish, list, resume each say what is wrong, in one line.

The run (``publish_helpers``) has checkpoints 4, 8 and 12 and a ``best/``; every test damages its
own copy.
"""

from __future__ import annotations

import json
import shutil

import pytest

from forgellm_tui import cli
from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.training import resume_point
from forgellm_tui.tui.screens import CheckpointsScreen

from publish_helpers import RUN, leftovers, run_dir
from tui_helpers import make_app, screen_text, settle

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def _rank_8(folder):
    data = json.loads((folder / "adapter_config.json").read_text())
    data["lora_parameters"]["rank"] = 8  # the weights are rank 4
    (folder / "adapter_config.json").write_text(json.dumps(data))


PUBLISH_CASES = {
    "garbage adapters": (lambda f: (f / "adapters.safetensors").write_bytes(b"\x93NUMPY garbage" * 40),
                         ["best/adapters.safetensors", "corrupt"]),
    "0-byte adapters": (lambda f: (f / "adapters.safetensors").write_bytes(b""),
                        ["best/adapters.safetensors", "empty"]),
    "unparsable adapter_config": (lambda f: (f / "adapter_config.json").write_text("{rank: 8"),
                                  ["best/adapter_config.json", "JSON"]),
    "rank 8 config, rank-4 weights": (_rank_8, ["best/adapter_config.json", "rank 8", "rank-4"]),
}


@pytest.mark.parametrize("label", list(PUBLISH_CASES))
def test_publish_refuses_damaged_adapter_files(ws, capsys, label):
    damage, words = PUBLISH_CASES[label]
    damage(run_dir(ws) / "best")
    rc = cli.main(["-w", str(ws), "publish", str(run_dir(ws)), "--name", "out"])
    err = _one_line(capsys)
    assert rc == 2 and all(w in err for w in words), err
    assert leftovers(ws / "published") == []


def _bad_field_run(ws):
    """A copy of the run whose run.json has ``iteration: "abc"``."""
    broken = ws / "models" / "cpt" / "broken-run"
    shutil.copytree(run_dir(ws), broken)
    info = json.loads((broken / "run.json").read_text())
    info.update(name="broken-run", iteration="abc")
    (broken / "run.json").write_text(json.dumps(info))
    return broken


def test_runs_lists_a_run_with_a_malformed_field_as_unreadable(ws, capsys):
    _bad_field_run(ws)
    assert cli.main(["-w", str(ws), "runs", "--json"]) == 0
    runs = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert runs[RUN]["status"] == "finished"
    assert runs["broken-run"]["status"] == "unreadable"
    assert "run.json" in runs["broken-run"]["error"] and "'iteration'" in runs["broken-run"]["error"]
    assert cli.main(["-w", str(ws), "runs"]) == 0
    out = capsys.readouterr().out
    assert "unreadable" in out and RUN in out and "field 'iteration' is 'abc'" in out


async def test_checkpoints_screen_shows_the_other_runs_and_the_unreadable_one(ws):
    _bad_field_run(ws)
    app = make_app(ws)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert isinstance(app.screen, CheckpointsScreen)
        text = screen_text(app)
        assert RUN in text and "broken-run" in text and "unreadable" in text


def _stamp_other_iteration(run):
    shutil.copyfile(run / "checkpoints/0000004/optimizer.safetensors", run / "checkpoints/0000012/optimizer.safetensors")


@pytest.mark.parametrize("damage, why", [
    (lambda run: (run / "checkpoints/0000012/adapters.safetensors").write_bytes(b""), "adapters.safetensors is empty"),
    (lambda run: (run / "checkpoints/0000012/optimizer.safetensors").write_bytes(b"\xff" * 64), "corrupt"),
    (_stamp_other_iteration, "optimizer.safetensors was saved at iteration 4, state.json says 12"),
])
def test_resume_skips_a_damaged_newest_checkpoint(ws, damage, why):
    run = run_dir(ws)
    damage(run)
    folder, notes = ck.resumable(run)
    assert folder.name == "0000008" and len(notes) == 1 and why in notes[0] and "0000012" in notes[0]
    assert resume_point(run) == (run.resolve(), (run / "checkpoints/0000008").resolve())
    with pytest.raises(ForgeError, match="damaged"):  # named explicitly, it is refused, not used
        resume_point(run / "checkpoints/0000012")


def test_resume_from_a_damaged_newest_checkpoint_warns_and_trains_on(ws, capsys):
    run = run_dir(ws)
    (run / "checkpoints/0000012/adapters.safetensors").write_bytes(b"")
    rc = cli.main(["-w", str(ws), "train", "--resume", str(run), "--set", "max_iterations=9"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "warning: checkpoint 0000012 is damaged (adapters.safetensors is empty)" in out
    assert "resuming from checkpoint 0000008" in out and "iterations 8->9" in out


def test_impossible_data_index_in_state_json_is_refused_before_training(ws, capsys):
    run = run_dir(ws)
    state_path = run / "checkpoints/0000012/state.json"
    for index in (10**6, -3, "abc"):
        state = json.loads(state_path.read_text())
        state["data"]["index"] = index
        state_path.write_text(json.dumps(state))
        before = (run / "run.json").read_text()
        rc = cli.main(["-w", str(ws), "train", "--resume", str(run), "--set", "max_iterations=14"])
        err = _one_line(capsys)
        assert rc == 2 and "0000012/state.json" in err and "data.index" in err, err
        assert (run / "run.json").read_text() == before  # the run was not touched
