"""Every config shipped in configs/ loads and validates; the demo ones run on the demo workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgellm_tui.core.config.model import load_config
from forgellm_tui.core.demo.configs import DEMO_CONFIGS, demo_config_text
from forgellm_tui.settings import Settings

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FILES = sorted(CONFIGS.glob("*.yaml"))


def test_configs_folder_has_the_expected_examples():
    names = {p.name for p in FILES}
    assert {"cpt-demo.yaml", "ift-demo.yaml", "qwen3-4b-cpt.yaml", "qwen3-4b-ift.yaml", "qwen3-4b-qlora.yaml"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_config_is_valid_and_commented(path, tmp_path):
    cfg = load_config(path, settings=Settings.load(tmp_path))
    assert cfg.model and cfg.data
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert " # " in line, f"{path.name}: no comment on: {line}"


def test_qlora_example_uses_a_quantized_model_and_lora():
    cfg = load_config(CONFIGS / "qwen3-4b-qlora.yaml", settings=Settings.load(CONFIGS.parent))
    assert cfg.fine_tune_type == "lora" and "4bit" in cfg.model


@pytest.mark.parametrize("name", DEMO_CONFIGS)
def test_demo_configs_match_the_repository_and_fit_the_demo(name, demo_dir):
    from forgellm_tui.core.training import estimate

    assert (CONFIGS / name).read_text() == demo_config_text(name) == (demo_dir / "configs" / name).read_text()
    cfg = load_config(demo_dir / "configs" / name, settings=Settings.load(demo_dir))
    est = estimate(cfg)        # model and prepared data exist in the demo workspace
    assert est.max_iterations == cfg.max_iterations and 0.1 < est.epochs < 3
    assert est.truncated_rows == 0
    assert est.validations >= 5 and est.checkpoints >= 5
