"""``forgellm-tui train`` on preference pairs: progress lines with the reward accuracy and margin."""

from __future__ import annotations

import pytest
import yaml

from forgellm_tui import cli

from train_helpers import MODEL, small_pref

pytestmark = pytest.mark.usefixtures("mlx_exit")


def test_dpo_progress_lines_show_reward_accuracy_and_margin_and_runs_lists_it(workspace, capsys):
    raw = {"model": MODEL, "data": small_pref(workspace), "training_type": "dpo", "max_iterations": 2,
           "batch_size": 2, "max_seq_length": 64, "steps_per_report": 1, "steps_per_eval": 2, "val_batches": 2,
           "save_every": 2, "lora_rank": 4, "learning_rate": 1e-3}
    path = workspace / "configs" / "dpo-cli.yaml"
    path.write_text(yaml.safe_dump(raw))
    rc = cli.main(["--workspace", str(workspace), "train", str(path), "--name", "dpo-cli"])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = [line for line in out.splitlines() if line.startswith("it ")]
    assert [line.split()[1] for line in lines] == ["0/2", "1/2", "2/2"]
    assert "val acc 0.00" in lines[0] and " margin " not in lines[0]  # before training: policy == reference
    assert "acc " in lines[1] and " margin " in lines[1] and "val acc" not in lines[1]
    assert " margin " in lines[2] and "val acc " in lines[2]
    assert "training dpo-cli: dpo lora" in out
    assert cli.main(["--workspace", str(workspace), "runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split()[:3] == ["dpo-cli", "dpo", "finished"]
    assert cli.main(["--workspace", str(workspace), "control", "dpo-cli"]) == 0  # found by name under models/dpo
    assert "max_iterations = 2" in capsys.readouterr().out
