"""Names and paths from the user never reach folders that are not the app's; resume accepts what users pass.

Covers: user-given names (one folder name, checked by ``core.names`` everywhere), prepared data that
never replaces a folder of other files, ``run_dir``/``adapter_path`` at an existing non-run folder,
host names that would reach ssh as options, ``--resume`` on a checkpoint or a non-run folder,
``.tmp-`` leftovers of a killed writer, and duplicate keys in a config file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.core.config.model import ConfigFieldError, from_dict, load_config
from forgellm_tui.core.distributed.hosts import HostError, configured_hosts, read_hostfile
from forgellm_tui.core.distributed.launch import check_ssh
from forgellm_tui.core.errors import ConfigError, ForgeError
from forgellm_tui.core.names import check_name, name_problem
from forgellm_tui.core.training import prepare_run, train
from forgellm_tui.settings import Settings

from train_helpers import make_cfg, metrics_lines, run_json, small_cpt


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _victim(ws: Path) -> Path:
    folder = ws.parent / "victim"
    folder.mkdir()
    (folder / "precious.txt").write_text("mine")
    return folder


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["../victim", "a/b", "/abs", ".", "..", ".hidden", "-rf", "", " x", "a b", "x" * 129])
def test_a_name_must_be_one_plain_folder_name(name):
    assert name_problem(name) is not None
    with pytest.raises(ForgeError, match="use letters, digits"):
        check_name(name, "run name")


@pytest.mark.parametrize("name", ["cpt", "my-run_2.v1", "données", "x" * 128, "_private"])
def test_ordinary_names_are_accepted(name):
    assert check_name(name) == name


def test_prepare_name_cannot_reach_outside_the_data_folder(workspace, capsys):
    victim = _victim(workspace)
    for name in ("../../victim", str(victim), "-x", ".hidden"):
        rc = cli.main(["--workspace", str(workspace), "prepare", f"--name={name}", "--target-tokens", "100"])
        line = one_line_error(capsys.readouterr().err)
        assert rc == 2 and "--name" in line and "use letters, digits" in line, line
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text() == "mine"
    assert not [p for p in (workspace / "data").iterdir() if p.name.startswith(".")]


def test_prepare_never_replaces_a_folder_that_is_not_prepared_data(workspace, capsys):
    notes = workspace / "data" / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    rc = cli.main(["--workspace", str(workspace), "prepare", "--name", "notes", "--target-tokens", "100"])
    line = one_line_error(capsys.readouterr().err)
    assert rc == 2 and "notes" in line and "not a prepared-data folder" in line
    assert [p.name for p in notes.iterdir()] == ["todo.txt"] and (notes / "todo.txt").read_text() == "keep me"
    # an empty folder, or earlier prepared data (our manifest), is replaced as before
    (workspace / "data" / "fresh").mkdir()
    assert cli.main(["--workspace", str(workspace), "prepare", "--name", "fresh", "--target-tokens", "100",
                     "--mix-ratio", "1"]) == 0
    assert json.loads((workspace / "data" / "fresh" / "manifest.json").read_text())["kind"] == "cpt"


def test_run_names_from_config_and_cli_are_checked(workspace, capsys):
    victim = _victim(workspace)
    with pytest.raises(ConfigFieldError) as info:
        from_dict({"model": "m", "data": "d", "name": "../victim"})
    assert info.value.key == "name" and "single folder name" in str(info.value)
    small_cpt(workspace)
    config = workspace / "configs" / "c.yaml"
    config.write_text(yaml.safe_dump({"model": "models/base/forge-tiny", "data": "data/cpt-small",
                                      "max_iterations": 2, "batch_size": 2}))
    for name in ("../../../victim", str(victim)):
        rc = cli.main(["--workspace", str(workspace), "train", str(config), "--name", name])
        line = one_line_error(capsys.readouterr().err)
        assert rc == 2 and "name:" in line and "single folder name" in line, line
    assert [p.name for p in victim.iterdir()] == ["precious.txt"]
    assert not (workspace / "models" / "cpt").exists()


# ---------------------------------------------------------------- run_dir / adapter_path


def test_run_dir_at_an_existing_folder_of_other_files_is_refused(workspace, capsys):
    other = workspace.parent / "other"
    (other / "best").mkdir(parents=True)
    (other / "best" / "keep.txt").write_text("mine")
    (other / "notes.txt").write_text("notes")
    before = sorted(p.relative_to(other).as_posix() for p in other.rglob("*"))
    for key in ("run_dir", "adapter_path"):
        with pytest.raises(ConfigError, match="not a run folder") as info:
            prepare_run(make_cfg(workspace, **{key: str(other)}))
        assert str(other) in str(info.value)
    config = workspace / "configs" / "c.yaml"
    config.write_text(yaml.safe_dump({"model": "models/base/forge-tiny", "data": "data/cpt-small",
                                      "max_iterations": 2, "batch_size": 2, "adapter_path": str(other)}))
    assert cli.main(["--workspace", str(workspace), "train", str(config)]) == 2
    assert "not a run folder" in one_line_error(capsys.readouterr().err)
    assert sorted(p.relative_to(other).as_posix() for p in other.rglob("*")) == before
    assert (other / "best" / "keep.txt").read_text() == "mine"
    # a new folder anywhere (what mlx-lm users do), or an empty one, is fine
    for target in (workspace.parent / "new" / "adapters", workspace.parent / "empty"):
        if target.name == "empty":
            target.mkdir()
        assert prepare_run(make_cfg(workspace, adapter_path=str(target))) == target
        assert run_json(target)["status"] == "queued"


def test_output_dir_holds_run_folders_and_keeps_what_was_there(workspace):
    out = workspace.parent / "runs-here"
    (out / "best").mkdir(parents=True)
    (out / "best" / "keep.txt").write_text("mine")
    run = prepare_run(make_cfg(workspace, output_dir=str(out), name="r1"))
    assert run == out / "r1" and (out / "best" / "keep.txt").read_text() == "mine"


# ---------------------------------------------------------------- hosts


def test_host_names_starting_with_a_dash_are_refused(tmp_path):
    with pytest.raises(ConfigFieldError, match="starts with '-'") as info:
        from_dict({"model": "m", "data": "d", "batch_size": 2, "distributed": {"hosts": ["127.0.0.1", "-oX=y"]}})
    assert info.value.key == "distributed"
    hostfile = tmp_path / "hosts.json"
    for entry in ("-oX=y", {"ssh": "-oX=y", "ips": ["10.0.0.2"]}, {"ssh": "me@-oX=y"}):
        hostfile.write_text(json.dumps(["127.0.0.1", entry]))
        with pytest.raises(HostError, match="starts with '-'"):
            read_hostfile(hostfile)
    cfg = from_dict({"model": "m", "data": "d", "batch_size": 2, "distributed": {"hostfile": str(hostfile)}})
    with pytest.raises(HostError, match="starts with '-'"):
        configured_hosts(cfg)


def test_ssh_gets_the_host_after_the_end_of_its_options(tmp_path, monkeypatch):
    """A fake ssh on PATH records its arguments (fault injection: no network in tests)."""
    log = tmp_path / "argv.txt"
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    (host,) = configured_hosts(from_dict({"model": "m", "data": "d", "batch_size": 2,
                                          "distributed": {"hosts": ["mac2", "127.0.0.1"]}}))[:1]
    assert check_ssh(host, "/usr/bin/python3", str(tmp_path)) is None
    argv = log.read_text().splitlines()
    assert argv[argv.index("--") + 1] == "mac2" and argv.index("--") > argv.index("BatchMode=yes")


# ---------------------------------------------------------------- resume, leftovers, config keys


def test_resume_from_a_checkpoint_folder_or_a_non_run(workspace, capsys):
    first = train(make_cfg(workspace, name="ck", max_iterations=4, save_every=2, steps_per_eval=2))
    assert first.status == "finished"
    run = first.run_dir
    rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(run / "checkpoints" / "0000002"),
                   "--set", "max_iterations=6"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "at iteration 6/6" in out.out
    info = run_json(run)
    assert info["resumed_from"][-1]["checkpoint"] == "0000002" and info["iteration"] == 6
    its = [r["iteration"] for r in metrics_lines(run)]
    assert its == sorted(its) and len(its) == len(set(its)) and its[-1] == 6
    for path, words in ((workspace / "data", "not a run folder"), (workspace / "nope", "run folder not found"),
                        (run / "best", "not a checkpoint a run can continue from")):
        rc = cli.main(["--workspace", str(workspace), "train", "--resume", str(path)])
        line = one_line_error(capsys.readouterr().err)
        assert rc == 2 and words in line and str(path) in line and "config.yaml" not in line, line


def test_tmp_leftovers_of_a_killed_writer_are_removed_when_the_run_is_next_opened(workspace):
    first = train(make_cfg(workspace, name="left", max_iterations=4, save_every=2, steps_per_eval=2))
    run = first.run_dir
    (run / ".tmp-best.k1l2").mkdir()
    (run / ".tmp-best.k1l2" / "adapters.safetensors").write_bytes(b"half")
    (run / "checkpoints" / ".tmp-0000006.abcd").mkdir()
    (run / ".tmp-run.json.zz").write_text("{")
    os.replace(run / "best", run / ".tmp-best.old")   # killed between the two renames of a folder swap
    resumed = train(make_cfg(workspace, name="left", max_iterations=6, save_every=2, steps_per_eval=2),
                    resume_from=run)
    assert resumed.status == "finished"
    assert not [p for p in run.rglob(".tmp-*")]
    assert (run / "best" / "adapters.safetensors").is_file()


def test_duplicate_config_keys_are_an_error(tmp_path, workspace, capsys):
    path = tmp_path / "dup.yaml"
    path.write_text("model: m\ndata: d\nbatch_size: 4\nlora_parameters:\n  rank: 8\nbatch_size: 8\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, settings=Settings.load(tmp_path))
    text = str(info.value)
    assert str(path) in text and "'batch_size'" in text and "line 3" in text and "line 6" in text
    path.write_text("model: m\ndata: d\nlora_parameters:\n  rank: 8\n  scale: 20\n  rank: 16\n")
    with pytest.raises(ConfigError, match=r"'rank' appears twice \(line 4 and line 6\)"):
        load_config(path, settings=Settings.load(tmp_path))
    assert cli.main(["--workspace", str(workspace), "train", str(path)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "dup.yaml" in line and "'rank'" in line and "line 6" in line
