"""mlx-lm's own config vocabulary: ``lr_schedule: null``, keys we do not act on, ``adapter_path`` anywhere."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.tui.screens import CheckpointsScreen

from train_helpers import small_cpt
from tui_helpers import make_app, screen_text, settle

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]


def _mlx_lm_config(ws, adapter_path) -> str:
    """A config as mlx-lm's ``lora`` writes it (its key names and defaults)."""
    path = ws / "configs" / "mlx-lm.yaml"
    path.write_text(yaml.safe_dump({
        "model": "models/base/forge-tiny", "data": small_cpt(ws), "train": True, "test": False,
        "report_to": "wandb", "fine_tune_type": "lora", "iters": 2, "batch_size": 2, "max_seq_length": 128,
        "steps_per_eval": 2, "val_batches": 1, "save_every": 2, "learning_rate": 1e-3, "lr_schedule": None,
        "adapter_path": str(adapter_path), "lora_parameters": {"rank": 4, "scale": 20.0, "dropout": 0.0}}))
    return str(path)


def _listed(ws, capsys) -> list[str]:
    assert cli.main(["-w", str(ws), "runs", "--json"]) == 0
    return [r["path"] for r in json.loads(capsys.readouterr().out)]


async def test_an_mlx_lm_config_trains_warns_and_its_run_is_listed_outside_models(workspace, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere" / "my-adapters"
    config = _mlx_lm_config(workspace, elsewhere)
    assert cli.main(["-w", str(workspace), "train", config]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning: config key")]
    assert len(warnings) == 2, out  # test and report_to; train: true is what this does anyway
    test, report_to = sorted(warnings, key=lambda line: "'report_to'" in line)
    assert "'test'" in test and "run an evaluation separately" in test and "metrics.jsonl" in report_to
    assert "lr_schedule: constant" in (elsewhere / "config.yaml").read_text()

    assert str(elsewhere) in _listed(workspace, capsys)

    # the same config again with --name: the name is not what chooses the folder, adapter_path is
    assert cli.main(["-w", str(workspace), "train", config, "--name", "another"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "adapter_path" in err and "choose another --name" not in err, err

    app = make_app(workspace)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert isinstance(app.screen, CheckpointsScreen)
        assert "my-adapters" in screen_text(app)

    shutil.rmtree(elsewhere)  # a run folder deleted by hand leaves the index too
    assert _listed(workspace, capsys) == []
    assert json.loads((workspace / "models" / "run-index.json").read_text()) == []
