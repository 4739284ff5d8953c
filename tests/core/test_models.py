"""Model discovery: workspace models, runs, checkpoints, best/, published, HF cache; clear errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chat_fixtures import build_model_workspace
from forgellm_tui.core.models import files as mf
from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.models.discovery import (BASE, CHECKPOINT, HF, PUBLISHED, RUN, discover, inspect_path,
                                      resolve_base_model)
from forgellm_tui.settings import Settings

TOKENIZERS = Path(__file__).parents[1] / "fixtures" / "tokenizers"


@pytest.fixture(scope="module")
def layout(tmp_path_factory, demo_model):
    ws, hf = build_model_workspace(tmp_path_factory.mktemp("models"), demo_model)
    return Settings.load(ws, env={"HF_HUB_CACHE": str(hf)}), demo_model


def test_discover_finds_every_kind_with_type_and_size(layout):
    settings, demo_model = layout
    refs = {r.name: r for r in discover(settings)}
    assert set(refs) == {"forge-tiny", "pub-tiny", "cpt/run1", "cpt/run1 @ best", "cpt/run1 @ 10",
                         "cpt/run1 @ 20", "cpt/run1 @ 30", "org/tiny"}
    assert [refs[n].kind for n in ("forge-tiny", "pub-tiny", "cpt/run1", "org/tiny")] == [BASE, PUBLISHED, RUN, HF]
    assert all(refs[f"cpt/run1 @ {t}"].kind == CHECKPOINT for t in ("best", "10", "20", "30"))
    model_bytes = mf.dir_size(demo_model)
    assert refs["forge-tiny"].size_bytes == refs["org/tiny"].size_bytes == model_bytes > 10_000_000
    assert 0 < refs["cpt/run1"].size_bytes < 1_000_000
    assert "MB" in refs["forge-tiny"].label and "base model" in refs["forge-tiny"].label
    for ref in refs.values():  # every entry knows what mlx_lm.load needs and has no problem
        assert ref.error is None and ref.base_path is not None and mf.is_model_folder(ref.base_path)
        assert ref.is_instruct is True and ref.context_length == 2048 and ref.model_type == "llama"
    assert refs["cpt/run1 @ 10"].iteration == 10 and refs["cpt/run1 @ 10"].val_loss == 7.5
    assert refs["cpt/run1 @ 30"].iteration == 30 and refs["cpt/run1 @ 30"].adapter_path.is_file()
    assert refs["cpt/run1"].adapter_path == settings.cpt_dir / "run1"
    assert refs["org/tiny"].path.name == "abc"


def test_checkpoints_are_listed_in_order_after_the_run(layout):
    settings, _ = layout
    names = [r.name for r in discover(settings, hf_cache=False) if r.run == "cpt/run1"]
    assert names == ["cpt/run1", "cpt/run1 @ best", "cpt/run1 @ 10", "cpt/run1 @ 20", "cpt/run1 @ 30"]


def test_incomplete_checkpoint_under_temp_name_is_ignored(layout, tmp_path):
    settings, _ = layout
    ws = tmp_path / "ws"
    shutil.copytree(settings.workspace, ws, symlinks=True)
    partial = ws / "models" / "cpt" / "run1" / "checkpoints" / ".tmp-0000040.xyz"
    shutil.copytree(ws / "models" / "cpt" / "run1" / "checkpoints" / "0000010", partial)
    names = [r.name for r in discover(Settings.load(ws, env={}), hf_cache=False)]
    assert not any("0000040" in n or "40" in n.split("@")[-1] for n in names)


def test_inspect_path_accepts_model_run_checkpoint_and_file(layout):
    settings, demo_model = layout
    run = settings.cpt_dir / "run1"
    assert inspect_path(demo_model, settings).kind in (BASE, "folder")
    assert inspect_path(run, settings).kind == RUN
    ck = inspect_path(run / "checkpoints" / "0000020", settings)
    assert ck.kind == CHECKPOINT and ck.iteration == 20
    assert ck.base_path.resolve() == demo_model.resolve()
    assert inspect_path(run / "0000030_adapters.safetensors", settings).iteration == 30
    assert inspect_path(settings.published_dir / "pub-tiny", settings).kind == PUBLISHED


def test_non_model_folder_is_rejected_with_folder_and_fix(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello")
    with pytest.raises(ModelError) as err:
        inspect_path(folder, Settings.load(tmp_path, env={}))
    msg = str(err.value)
    assert str(folder) in msg and "not a model folder" in msg and "config.json" in msg and "\n" not in msg


@pytest.mark.parametrize("name, words", [
    ("gemma-3-it", "not a model folder"),            # tokenizer files only
    ("gpt2-xl", "no *.safetensors weights"),          # config.json but no weights
])
def test_tokenizer_only_folders_are_not_models(name, words, tmp_path):
    with pytest.raises(ModelError, match=re.escape(words)):
        inspect_path(TOKENIZERS / name, Settings.load(tmp_path, env={}))


def test_run_that_saved_nothing_yet_says_so(tmp_path):
    run = tmp_path / "models" / "cpt" / "new-run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    with pytest.raises(ModelError, match="no saved adapters yet"):
        inspect_path(run, Settings.load(tmp_path, env={}))
    assert discover(Settings.load(tmp_path, env={}), hf_cache=False) == []


def test_bin_only_folder_suggests_conversion(tmp_path):
    folder = tmp_path / "torch-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="mlx_lm.convert"):
        inspect_path(folder, Settings.load(tmp_path, env={}))


def test_run_with_missing_base_model_is_listed_with_its_problem(layout, tmp_path):
    settings, _ = layout
    ws = tmp_path / "ws"
    run = ws / "models" / "ift" / "lost"
    shutil.copytree(settings.cpt_dir / "run1", run, ignore=shutil.ignore_patterns("checkpoints", "best", "0*"))
    (run / "config.yaml").write_text("model_name: org/does-not-exist\n")
    refs = discover(Settings.load(ws, env={"HF_HUB_CACHE": str(tmp_path / "nohf")}))
    [ref] = [r for r in refs if r.run == "ift/lost"]
    assert ref.base_path is None and "org/does-not-exist" in ref.error and "config.yaml" in ref.error
    with pytest.raises(ModelError, match="does-not-exist"):
        inspect_path(run, Settings.load(ws, env={}))


def test_base_model_resolves_from_hf_repo_id(layout):
    settings, _ = layout
    assert resolve_base_model("org/tiny", settings).name == "abc"
    assert resolve_base_model(str(settings.base_models_dir / "forge-tiny"), settings).name == "forge-tiny"


def test_hf_cache_follows_environment(tmp_path):
    assert Settings.load(tmp_path, env={"HF_HOME": str(tmp_path / "h")}).hf_cache == tmp_path / "h" / "hub"
    assert discover(Settings.load(tmp_path, env={"HF_HUB_CACHE": str(tmp_path / "none")})) == []


def test_chat_template_decides_instruct_and_names_break_ties(tmp_path):
    expect = {"gpt2-xl": False, "gemma-2b-it": True, "gemma-3-it": True, "llama-3.2-3b-instruct": True,
              "mistral-7b-instruct-v0.3": True, "phi-3-mini-128k-instruct": True,
              "qwen2.5-coder-3b-instruct": True, "deepseek-r1-distill-qwen-32b": True}
    assert {n: mf.detect_instruct(TOKENIZERS / n) for n in expect} == expect
    qwen = TOKENIZERS / "qwen2.5-coder-3b-instruct"
    assert mf.detect_instruct(qwen, "Qwen2.5-7B-Base") is False        # a base model that ships a template
    assert mf.detect_instruct(qwen, "Qwen2.5-7B-Instruct-base-fix") is True
    assert mf.detect_instruct(TOKENIZERS / "gpt2-xl", "gpt2-instruct") is False  # no template: base


def test_corrupt_safetensors_is_reported(tmp_path, demo_model):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes((demo_model / "model.safetensors").read_bytes()[:5000])
    with pytest.raises(ModelError, match="truncated|corrupt"):
        mf.safetensors_header(bad)
    assert mf.context_length(demo_model) == 2048


def test_resolve_open_puts_an_adapter_on_its_runs_base_or_on_the_model_given(layout):
    from forgellm_tui.core.models.discovery import resolve_open

    settings, _ = layout
    run = settings.cpt_dir / "run1"
    ref = resolve_open(settings, None, run / "checkpoints" / "0000010")
    assert ref.kind == CHECKPOINT and ref.name == "run1 @ 10" and ref.error is None
    assert ref.adapter_path == run / "checkpoints" / "0000010"
    assert ref.base_path == settings.base_models_dir / "forge-tiny"
    published = settings.published_dir / "pub-tiny"
    ref = resolve_open(settings, published, run)
    assert ref.kind == RUN and ref.adapter_path == run and ref.base_path == published and ref.error is None
    plain = resolve_open(settings, published)
    assert plain.kind == PUBLISHED and plain.adapter_path is None and plain.base_path == published


def test_resolve_open_refuses_what_is_not_an_adapter(layout, tmp_path):
    from forgellm_tui.core.models.discovery import resolve_open

    settings, _ = layout
    with pytest.raises(ModelError, match="not an adapter folder"):
        resolve_open(settings, None, settings.published_dir / "pub-tiny")
    training = tmp_path / "models" / "cpt" / "still-training"
    (training / "checkpoints").mkdir(parents=True)
    (training / "run.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(ModelError, match="no saved adapters yet"):
        resolve_open(settings, None, training)
