"""A full disk, at the start of a run and in the middle of one: a clear line, a recorded failure, nothing left.

The real full disk is a small tmpfs (needs root and mount permission, skipped elsewhere); the
fault-injection tests raise OSError(ENOSPC) where the write happens and run everywhere.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from forgellm_tui import cli
from forgellm_tui.core import fsio
from forgellm_tui.core.training.engine import train

from train_helpers import make_cfg, run_json, small_cpt

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mlx_exit")]


@pytest.fixture
def tiny_fs(mount_tmpfs):
    """An 8 MB tmpfs."""
    return mount_tmpfs("8m")


def _fill(folder: Path) -> None:
    """Write zeros until the file system says it is full."""
    with open(folder / "filler", "ab") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def _train_cli(ws: Path, *sets: str) -> int:
    small_cpt(ws)
    args = ["-w", str(ws), "train", str(ws / "configs/cpt-demo.yaml"), "--set", "data=data/cpt-small",
            "--set", "max_iterations=4", "--set", "warmup_steps=0", "--set", "batch_size=2"]
    for item in sets:
        args += ["--set", item]
    return cli.main(args)


def test_disk_full_at_start_is_one_line_and_leaves_no_folder(workspace, tiny_fs, capsys):
    _fill(tiny_fs)
    rc = _train_cli(workspace, f"output_dir={tiny_fs}/runs", "name=full")
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "the disk is full" in err and "nothing was left behind" in err and "output_dir" in err
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler"]  # neither runs/ nor runs/full


def test_run_folder_that_cannot_be_written_is_removed(workspace, capsys, monkeypatch):
    real = fsio.atomic_write_bytes

    def full_disk(path, data):  # fault injection: the disk is full when run.json is written
        if Path(path).name == "run.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(fsio, "atomic_write_bytes", full_disk)
    rc = _train_cli(workspace, "name=full")
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "the disk is full" in err, err
    assert not (workspace / "models" / "cpt").exists()


def test_disk_full_in_the_middle_of_a_run_is_recorded(workspace, tiny_fs):
    cfg = make_cfg(workspace, output_dir=str(tiny_fs / "runs"), name="mid", max_iterations=8, steps_per_report=1,
                   steps_per_eval=100, save_every=100)

    def fill_at_3(iteration: int) -> None:
        if iteration == 3:
            _fill(tiny_fs)

    result = train(cfg, fault_hook=fill_at_3)
    run = tiny_fs / "runs" / "mid"
    info = run_json(run)
    assert result.status == "failed" and info["status"] == "failed"
    assert "the disk is full" in info["error"] and f"--resume {run}" in info["error"]
    assert "No space left on device" in (run / "error.log").read_text()


def test_disk_full_while_writing_metrics_says_so(workspace, monkeypatch):
    appended = []
    real = fsio.JsonlAppender.append

    def append(self, record):  # fault injection: the third metrics record meets a full disk
        if self.path.name == "metrics.jsonl":
            appended.append(record)
            if len(appended) == 3:
                raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real(self, record)

    monkeypatch.setattr(fsio.JsonlAppender, "append", append)
    result = train(make_cfg(workspace, name="metrics-full", steps_per_report=1))
    run = workspace / "models" / "cpt" / "metrics-full"
    info = json.loads((run / "run.json").read_text())
    assert result.status == "failed" and info["status"] == "failed"
    assert info["error"].startswith("the disk is full while writing") and "metrics.jsonl" in info["error"]
    assert "forgellm-tui train --resume" in info["error"] and (run / "error.log").is_file()
    assert not (run / ".space-reserve").exists()  # the space held for this moment is given back
