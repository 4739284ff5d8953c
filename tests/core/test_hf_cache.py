"""The Hugging Face hub cache is read in one place (core/models/hf_cache.py), through huggingface_hub.

The fake cache below is laid out like a real one: ``blobs/<hash>`` files, ``snapshots/<revision>/``
links to them, ``refs/main`` naming a revision.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import pytest

import forgellm_tui
from forgellm_tui.core.config.model import load_config
from forgellm_tui.core.models import hf_cache
from forgellm_tui.core.models.discovery import discover, resolve_base_model
from forgellm_tui.core.training.preflight import resolve_model
from forgellm_tui.settings import Settings

HEADER = json.dumps({"__metadata__": {"format": "mlx"}}).encode()
MODEL_FILES = {"config.json": json.dumps({"model_type": "llama"}), "tokenizer.json": "{}",
               "model.safetensors": struct.pack("<Q", len(HEADER)) + HEADER}  # a valid file with no tensors


def cached_repo(cache: Path, kind: str, repo_id: str, revisions: dict[str, dict[str, str | bytes]],
                main: str | None = None) -> Path:
    """``<kind>s--org--name`` with one snapshot per revision, its files linked to blobs like huggingface_hub's."""
    repo = cache / f"{kind}s--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for age, (revision, files) in enumerate(reversed(list(revisions.items()))):
        snap = repo / "snapshots" / revision
        snap.mkdir(parents=True)
        for name, text in files.items():
            blob = repo / "blobs" / f"{revision}-{name}"
            blob.write_bytes(text if isinstance(text, bytes) else text.encode())
            os.utime(blob, (1_700_000_000 - age * 1000,) * 2)  # the last revision given is the newest
            (snap / name).symlink_to(os.path.relpath(blob, snap))
    if main is not None:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(main)
    return repo


@pytest.fixture
def cache(tmp_path) -> Path:
    cache = tmp_path / "hub"
    cached_repo(cache, "model", "org/tiny", {"aaa": MODEL_FILES, "bbb": MODEL_FILES}, main="aaa")
    cached_repo(cache, "model", "org/pinned", {"old": MODEL_FILES, "new": MODEL_FILES})  # no refs/main
    cached_repo(cache, "dataset", "org/data", {"ccc": {"train.jsonl": "{}"}}, main="ccc")
    broken = cached_repo(cache, "model", "org/broken", {"ddd": MODEL_FILES}, main="ddd")
    (broken / "blobs" / "ddd-config.json").unlink()  # a download cut short: a dangling link
    return cache


def test_refs_main_wins_over_a_newer_revision(cache):
    assert hf_cache.snapshot("org/tiny", cache) == cache / "models--org--tiny" / "snapshots" / "aaa"


def test_without_refs_main_the_newest_revision_is_used(cache):
    assert hf_cache.snapshot("org/pinned", cache) == cache / "models--org--pinned" / "snapshots" / "new"


def test_missing_repos_and_caches_find_nothing(cache, tmp_path):
    assert hf_cache.snapshot("org/absent", cache) is None
    assert hf_cache.snapshot("not a repo id/..", cache) is None
    assert hf_cache.snapshot("org/tiny", tmp_path / "no-cache") is None
    assert hf_cache.model_snapshots(tmp_path / "no-cache") == {}


def test_model_snapshots_lists_model_repos_only_and_skips_damaged_ones(cache):
    found = hf_cache.model_snapshots(cache)
    assert found == {"org/pinned": cache / "models--org--pinned" / "snapshots" / "new",
                     "org/tiny": cache / "models--org--tiny" / "snapshots" / "aaa"}


def test_discovery_training_and_run_lookups_all_find_the_cached_model(cache, tmp_path):
    ws = tmp_path / "ws"
    settings = Settings.load(ws, env={"HF_HUB_CACHE": str(cache)})
    hf = [(ref.name, ref.path) for ref in discover(settings) if ref.kind == "hf-cache"]
    assert hf == [("org/pinned", cache / "models--org--pinned" / "snapshots" / "new"),
                  ("org/tiny", cache / "models--org--tiny" / "snapshots" / "aaa")]
    assert resolve_base_model("org/tiny", settings) == cache / "models--org--tiny" / "snapshots" / "aaa"
    (ws / "configs").mkdir(parents=True)
    (ws / "configs" / "c.yaml").write_text("model: org/pinned\ndata: data/x\n")
    cfg = load_config(ws / "configs" / "c.yaml", {}, settings)
    assert resolve_model(cfg, settings) == cache / "models--org--pinned" / "snapshots" / "new"


def test_cache_folder_follows_huggingface_hub_variables(tmp_path):
    assert hf_cache.cache_dir({"HUGGINGFACE_HUB_CACHE": str(tmp_path / "legacy")}) == tmp_path / "legacy"
    assert hf_cache.cache_dir({"HF_HUB_CACHE": str(tmp_path / "a"), "HF_HOME": str(tmp_path / "b")}) == tmp_path / "a"
    assert hf_cache.cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "huggingface" / "hub"
    assert Settings.load(tmp_path, env={"HUGGINGFACE_HUB_CACHE": str(tmp_path / "legacy")}).hf_cache == \
        tmp_path / "legacy"


def test_the_cache_layout_is_known_in_one_module_only():
    """``models--``/``snapshots``/``refs/main`` and the HF_* variables appear only in hf_cache.py."""
    root = Path(forgellm_tui.__file__).parent
    layout = re.compile(r"models--|[\"']snapshots[\"']|[\"']refs[\"']|HF_HOME|HF_HUB_CACHE")
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if layout.search(p.read_text(encoding="utf-8")))
    assert found == ["core/models/hf_cache.py"]
