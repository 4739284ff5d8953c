"""``train --dry-run``: the estimate with the expected peak memory, and nothing written."""

from __future__ import annotations

from forgellm_tui import cli

from train_helpers import run_dirs


def test_dry_run_prints_the_memory_estimate_and_writes_nothing(workspace, capsys, monkeypatch):
    monkeypatch.setenv("FORGELLM_MEMORY", "16G")
    rc = cli.main(["--workspace", str(workspace), "train", "configs/cpt-demo.yaml", "--dry-run"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and out[0].startswith("data: 5,") and "200 iterations" in out[2]
    memory = next(line for line in out if line.startswith("memory: ~"))
    assert memory.endswith("MiB expected peak; 16.0 GiB of 16.0 GiB (FORGELLM_MEMORY=16G) available")
    assert any(line.startswith("memory: 16 MiB weights, ") for line in out)
    assert any("(8 x 128 tokens, 4 blocks)" in line for line in out)
    assert not any("will not fit" in line for line in out)
    assert run_dirs(workspace) == []


def test_dry_run_that_will_not_fit_says_the_first_fix(workspace, capsys, monkeypatch):
    monkeypatch.setenv("FORGELLM_MEMORY", "100M")
    rc = cli.main(["--workspace", str(workspace), "train", "configs/cpt-demo.yaml", "--dry-run",
                   "--set", "batch_size=16"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and out[-1].startswith("⚠ will not fit; first fix: batch_size 16 → ")
    assert "same 16 rows per optimizer update" in out[-1] and run_dirs(workspace) == []


def test_dry_run_of_a_bad_config_is_one_line(workspace, capsys):
    rc = cli.main(["--workspace", str(workspace), "train", "configs/cpt-demo.yaml", "--dry-run",
                   "--set", "batch_size=0"])
    err = capsys.readouterr().err
    assert rc == 2 and "batch_size" in err and "Traceback" not in err and run_dirs(workspace) == []
