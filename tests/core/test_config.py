"""Training configs: the original ForgeLLM's and mlx-lm's key names, validation messages a user can act on, YAML round trip."""

from __future__ import annotations

import pytest
import yaml

from forgellm_tui.core.config.model import (ConfigFieldError, field_errors, from_dict, load_config, merge_overrides,
                                      parse_overrides, validate)
from forgellm_tui.core.config.fields import FIELDS
from forgellm_tui.core.config.schema import TrainingConfig
from forgellm_tui.core.errors import ConfigError
from forgellm_tui.settings import Settings

BASE = {"model": "models/base/forge-tiny", "data": "data/cpt-demo"}


def write(tmp_path, text: str, name: str = "c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_seed_keys_are_accepted(tmp_path):
    path = write(tmp_path, """
model_name: "mlx-community/Qwen3-4B-bf16"
input_dir: "data/pretraining"
output_dir: "models/cpt"
max_iterations: 1000
batch_size: 2
learning_rate: 5e-5
lr_schedule: "cosine_decay"
data_mixture_ratio: 0.8
overfitting_threshold: 0.1
save_every: 50
early_stopping_patience: 3
min_loss_improvement: 0.001
warmup_steps: 30
""")
    cfg = load_config(path, settings=Settings.load(tmp_path))
    assert cfg.model == "mlx-community/Qwen3-4B-bf16" and cfg.data == "data/pretraining"
    assert cfg.learning_rate == 5e-5 and isinstance(cfg.learning_rate, float)   # "5e-5" is a float here
    assert cfg.lr_schedule == "cosine" and cfg.warmup_steps == 30
    assert cfg.extra == {"data_mixture_ratio": 0.8}     # kept, reported as unused by training
    assert cfg.workspace == str(tmp_path.resolve())


def test_mlx_lm_lora_keys_are_accepted():
    cfg = from_dict({"model": "m", "data": "d", "iters": 200, "steps_per_eval": 20, "steps_per_report": 5,
                     "lora_parameters": {"rank": 16, "scale": 10.0, "dropout": 0.05, "keys": ["self_attn.q_proj"]},
                     "lr_schedule": {"name": "cosine_decay", "arguments": [1e-4, 200, 1e-6], "warmup": 10,
                                     "warmup_init": 1e-7},
                     "optimizer": "adamw", "optimizer_config": {"adamw": {"weight_decay": 0.05}},
                     "grad_checkpoint": True, "grad_accumulation_steps": 2, "mask_prompt": False,
                     "num_layers": 8, "fine_tune_type": "dora", "seed": 3, "max_seq_length": 512,
                     "val_batches": -1, "adapter_path": "adapters/x", "train": True})
    assert (cfg.max_iterations, cfg.lora_rank, cfg.lora_scale, cfg.lora_dropout) == (200, 16, 10.0, 0.05)
    assert cfg.lora_keys == ["self_attn.q_proj"] and cfg.lr_schedule == "cosine"
    assert cfg.lr_schedule_arguments == [1e-4, 200, 1e-6] and cfg.learning_rate == 1e-4
    assert (cfg.warmup_steps, cfg.warmup_init, cfg.run_dir) == (10, 1e-7, "adapters/x")
    assert cfg.lora_parameters == {"rank": 16, "scale": 10.0, "dropout": 0.05, "keys": ["self_attn.q_proj"]}


def test_defaults_depend_on_training_type():
    cpt = from_dict(BASE)
    ift = from_dict({**BASE, "training_type": "ift"})
    assert cpt.effective_early_stopping and not cpt.effective_mask_prompt
    assert ift.effective_mask_prompt and not ift.effective_early_stopping


def test_yaml_round_trip_has_a_comment_per_key():
    cfg = from_dict({**BASE, "batch_size": 8, "lora_keys": ["self_attn.q_proj"], "data_mixture_ratio": 0.9})
    text = cfg.to_yaml()
    for line in text.splitlines():
        if line and not line.startswith("#") and not line.startswith("data_mixture_ratio"):
            assert "  # " in line, line
    again = from_dict(yaml.safe_load(text))
    assert again == cfg and again.to_dict() == cfg.to_dict()


def test_unknown_key_is_reported_with_a_suggestion():
    with pytest.raises(ConfigFieldError) as info:
        from_dict({**BASE, "batch_sise": 4})
    assert info.value.key == "batch_sise"
    assert "unknown key" in str(info.value) and "did you mean 'batch_size'" in str(info.value)


@pytest.mark.parametrize("key, value, words", [
    ("batch_size", 0, ["batch_size", "≥ 1", "got 0"]),
    ("learning_rate", 0, ["learning_rate", "> 0", "got 0"]),
    ("learning_rate", -1e-4, ["learning_rate", "> 0", "-0.0001"]),
    ("max_seq_length", 0, ["max_seq_length", "≥ 2", "got 0"]),
    ("max_seq_length", -5, ["max_seq_length", "got -5"]),
    ("lr_schedule", "cosin", ["lr_schedule", "unknown value 'cosin'", "cosine, linear, constant", "did you mean"]),
    ("fine_tune_type", "qlora", ["fine_tune_type", "one of lora, dora, full"]),
    ("batch_size", "four", ["batch_size", "must be a number", "'four'"]),
    ("batch_size", 2.5, ["batch_size", "whole number"]),
    ("grad_checkpoint", "maybe", ["grad_checkpoint", "true or false"]),
])
def test_bad_values_name_key_value_and_range(key, value, words):
    with pytest.raises(ConfigFieldError) as info:
        from_dict({**BASE, key: value})
    assert info.value.key == key
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_all_problems_are_reported_at_once_and_per_field():
    raw = {**BASE, "batch_size": 0, "learning_rate": -1, "lora_parameters": {"rank": 8, "alpha": 16}, "itres": 3}
    errors = field_errors(raw)
    assert set(errors) == {"batch_size", "learning_rate", "lora_parameters.alpha", "itres"}
    assert "scale" in errors["lora_parameters.alpha"] and "did you mean 'iters'" in errors["itres"]
    # canonical names for a form, even when the file used an alias
    assert "max_iterations" in field_errors({**BASE, "iters": 0})


def test_cross_field_rules():
    assert "epochs" in field_errors({**BASE, "epochs": 2, "max_iterations": 10})
    assert "warmup_steps" in field_errors({**BASE, "warmup_steps": 10, "max_iterations": 10})
    assert "mask_prompt" in field_errors({**BASE, "mask_prompt": True})
    assert "max_iterations" in field_errors({**BASE, "iters": 5, "max_iterations": 6})  # two spellings
    assert "optimizer_config" in field_errors({**BASE, "optimizer_config": {"adamw": {"momentum": 0.9}}})
    assert "weight_decay" in field_errors({**BASE, "optimizer": "adam", "weight_decay": 0.1})
    assert "lr_schedule" in field_errors({**BASE, "lr_schedule": "step_decay"})
    assert "lr_schedule_arguments" in field_errors({**BASE, "lr_schedule": {"name": "cosine_decay", "arguments": [1]}})
    assert "learning_rate" in field_errors({**BASE, "learning_rate": 1e-3,
                                            "lr_schedule": {"name": "cosine_decay", "arguments": [1e-4, 10]}})
    assert field_errors({**BASE, "lora_modules": "attention_only"}) == {}
    assert from_dict({**BASE, "lora_modules": "default"}).lora_keys == ["self_attn.q_proj", "self_attn.v_proj"]


def test_model_and_data_are_required():
    with pytest.raises(ConfigFieldError) as info:
        from_dict({"batch_size": 4})
    assert set(info.value.errors) == {"model", "data"}


def test_validate_an_edited_config():
    cfg = from_dict(BASE)
    assert validate(cfg) == []
    cfg.batch_size = 0
    cfg.lr_schedule = "wobbly"
    problems = validate(cfg)
    assert any(p.startswith("batch_size:") for p in problems) and any(p.startswith("lr_schedule:") for p in problems)


def test_yaml_errors_name_the_file_and_line(tmp_path):
    path = write(tmp_path, "model: m\ndata: [unclosed\nbatch_size: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, settings=Settings.load(tmp_path))
    assert str(path) in str(info.value) and "YAML syntax error at line" in str(info.value)
    for text, words in (("", "empty"), ("- a\n- b\n", "mapping")):
        with pytest.raises(ConfigError, match=words):
            load_config(write(tmp_path, text, "x.yaml"), settings=Settings.load(tmp_path))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml", settings=Settings.load(tmp_path))


def test_overrides_replace_any_spelling(tmp_path):
    path = write(tmp_path, "model: m\ndata: d\niters: 100\nlora_parameters: {rank: 8, scale: 20, dropout: 0}\n")
    overrides = parse_overrides(["max_iterations=7", "lora_parameters.rank=16", "learning_rate=3e-4", "name=run-a"])
    assert overrides == {"max_iterations": 7, "lora_parameters": {"rank": 16}, "learning_rate": 3e-4, "name": "run-a"}
    cfg = load_config(path, overrides, Settings.load(tmp_path))
    assert (cfg.max_iterations, cfg.lora_rank, cfg.lora_scale, cfg.learning_rate, cfg.name) == (7, 16, 20.0, 3e-4, "run-a")
    assert merge_overrides({"iters": 1}, {"max_iterations": 2}) == {"max_iterations": 2}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["batch_size"])


def test_schema_describes_every_field():
    import dataclasses

    names = [f.name for f in dataclasses.fields(TrainingConfig) if f.name not in ("extra", "workspace", "source")]
    assert names == list(FIELDS)
    for info in FIELDS.values():
        assert info.help, info.name


def test_equivalent_command_line_round_trips():
    import shlex

    from forgellm_tui.core.config.model import cli_command

    overrides = {"batch_size": 4, "learning_rate": 1e-4, "lora_parameters": {"rank": 16}, "lora_keys": ["a", "b"]}
    line = cli_command("configs/my run.yaml", overrides, name="r1", workspace="/ws")
    args = shlex.split(line)
    assert args[:6] == ["forgellm-tui", "--workspace", "/ws", "train", "configs/my run.yaml", "--name"]
    assert parse_overrides([args[i + 1] for i, a in enumerate(args) if a == "--set"]) == overrides


def test_each_key_is_described_once_for_help_and_yaml(capsys):
    """A key's description (its pydantic Field) is its line in ``train --help`` and its comment in YAML."""
    from forgellm_tui import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["train", "--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    cfg = from_dict({**BASE, "distributed": {"hosts": ["127.0.0.1", "127.0.0.1"]}, "sample_prompts": ["def f("]})
    comments = {line.split(":")[0]: line.split("  # ", 1)[1] for line in cfg.to_yaml().splitlines() if "  # " in line}
    assert set(comments) == set(FIELDS)
    for info in FIELDS.values():
        assert info.help and comments[info.name] == info.help, info.name
        assert f"{info.name} {' '.join(info.help.split())}" in help_text, info.name


def test_config_checks_the_distributed_section_without_importing_core_distributed():
    """The dependency points one way: core.distributed uses core.config, never the reverse."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    import forgellm_tui.core.config as package

    for path in Path(package.__file__).parent.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+forgellm_tui\.core\.distributed", path.read_text(), re.M), path
    code = ("import sys; from forgellm_tui.core.config.model import field_errors; "
            "e = field_errors({'model': 'm', 'data': 'd', 'batch_size': 3, 'distributed': {'hosts': 'a,b'}}); "
            "print(e['batch_size']); "
            "print(sorted(m for m in sys.modules if m.startswith('forgellm_tui.core.distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    message, loaded = out.stdout.strip().splitlines()
    assert "3 is not divisible by the 2 ranks" in message and loaded == "[]"
