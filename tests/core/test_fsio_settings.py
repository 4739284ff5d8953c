"""Atomic writes, the JSONL appender and workspace settings."""

from __future__ import annotations

import json
import os
import stat

import pytest

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.settings import Settings, hf_hub_cache


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "a.json"
    fsio.atomic_write_json(target, {"x": 1})
    fsio.atomic_write_json(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 2}
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others like a normal file


def test_failed_streaming_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "data.jsonl"
    fsio.atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with fsio.atomic_writer(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]


def test_jsonl_appender_and_reader_skip_a_truncated_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with fsio.JsonlAppender(path) as out:
        out.append({"iteration": 1})
        out.append({"iteration": 2})
    with open(path, "a") as fh:
        fh.write('{"iteration": 3, "trai')  # a writer killed mid-line
    records, offset = fsio.read_jsonl(path)
    assert [r["iteration"] for r in records] == [1, 2]
    # The next writer starts on a fresh line; the reader continues from its offset.
    fsio.append_jsonl(path, {"iteration": 4})
    more, _ = fsio.read_jsonl(path, start=offset)
    assert [r["iteration"] for r in more] == [4]


def test_atomic_dir_builds_then_renames(tmp_path):
    target = tmp_path / "ckpt"
    with pytest.raises(ValueError):
        with fsio.atomic_dir(target) as tmp:
            (tmp / "a").write_text("x")
            raise ValueError
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with fsio.atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with fsio.atomic_dir(target, replace=True) as tmp:
        (tmp / "a").write_text("2")
    assert (target / "a").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    with pytest.raises(ForgeError, match="already exists"):
        with fsio.atomic_dir(target):
            pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_gives_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ForgeError, match="not writable"):
        fsio.atomic_write_text(ro / "x.txt", "x")


def test_unwritable_path_gives_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    with pytest.raises(ForgeError, match="cannot create folder"):
        fsio.atomic_write_text(blocker / "x.txt", "x")


def test_settings_folders_and_env_overrides(tmp_path):
    s = Settings.load(tmp_path, env={})
    assert s.dataset_dir == tmp_path / "dataset" and s.published_dir == tmp_path / "published"
    assert s.cpt_dir == tmp_path / "models" / "cpt"
    s = Settings.load(tmp_path, env={"FORGELLM_DATA_DIR": "prepared", "FORGELLM_MODELS_DIR": str(tmp_path / "m"),
                                     "HF_HOME": str(tmp_path / "hf")})
    assert s.data_dir == tmp_path / "prepared"
    assert s.models_dir == tmp_path / "m"
    assert s.hf_cache == tmp_path / "hf" / "hub"
    assert hf_hub_cache({"HF_HUB_CACHE": "/x/y", "HF_HOME": "/z"}).as_posix() == "/x/y"
    s.ensure()
    assert all((tmp_path / d).is_dir() for d in ("dataset", "prepared", "configs", "published"))
