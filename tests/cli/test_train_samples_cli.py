"""``forgellm-tui train --verbose`` prints what the model says at each sampling point; without it the
samples only go to the run's samples.jsonl."""

from __future__ import annotations

import yaml

from forgellm_tui import cli
from forgellm_tui.core.runs import read_samples

from train_helpers import small_cpt

CONFIG = {"model": "models/base/forge-tiny", "max_iterations": 2, "batch_size": 2, "max_seq_length": 128,
          "steps_per_eval": 2, "val_batches": 1, "save_every": 2, "learning_rate": 1e-3,
          "sample_prompts": ["def read_file(", "The json module"], "sample_every": 1, "sample_max_tokens": 6}


def test_verbose_prints_samples_as_they_come(workspace, capsys):
    path = workspace / "configs" / "s.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "data": small_cpt(workspace)}))
    rc = cli.main(["--workspace", str(workspace), "train", str(path), "--name", "loud", "--verbose"])
    out = capsys.readouterr().out
    assert rc == 0, out[-2000:]
    lines = [line for line in out.splitlines() if line.startswith("sample ")]
    assert [line.split(":")[0] for line in lines] == ["sample it 0", "sample it 0", "sample it 1", "sample it 1",
                                                      "sample it 2", "sample it 2"]
    assert lines[0].startswith("sample it 0: 'def read_file(' -> '") and "'The json module' -> " in lines[1]
    records, _ = read_samples(workspace / "models" / "cpt" / "loud")
    assert len(records) == 6 and all(repr(" ".join(r["text"].split())) in out for r in records)
    # the progress lines come between the samples, in the order things happened
    assert out.index("sample it 1:") < out.index("sample it 2:") < out.index("finished")

    rc = cli.main(["--workspace", str(workspace), "train", str(path), "--name", "quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "sample it" not in out
    assert len(read_samples(workspace / "models" / "cpt" / "quiet")[0]) == 6
