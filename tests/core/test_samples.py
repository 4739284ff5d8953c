"""Samples while training: config keys, samples.jsonl written at the sampling points, its reader, and
an exact resume with samples on (real MLX training on the demo model)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import yaml

from forgellm_tui import cli
from forgellm_tui.core.config.model import ConfigFieldError
from forgellm_tui.core.runs import nearest, newest_per_prompt, read_samples, sample_iterations, truncate_samples
from forgellm_tui.core.training.engine import train

from train_helpers import Recorder, make_cfg, metrics_lines, run_dirs

PROMPTS = ["def read_file(", "The json module"]


def _weights(run_dir):
    import mlx.core as mx

    return mx.load(str(run_dir / "adapters.safetensors"))


def _same_weights(a, b) -> bool:
    import mlx.core as mx

    return a.keys() == b.keys() and all(mx.array_equal(a[k], b[k]).item() for k in a)


def _without_timing(records):
    return [{k: v for k, v in r.items() if k not in ("timestamp", "tokens_per_second", "eta_seconds", "memory_usage_gb")}
            for r in records]


@pytest.mark.parametrize("key, value, words", [
    ("sample_prompts", [1, "x"], "must be a list of non-empty texts"),
    ("sample_prompts", ["ok", "  "], "must be a list of non-empty texts"),
    ("sample_prompts", {"a": 1}, "must be a list of non-empty texts"),
    ("sample_every", 0, "≥ 1"),
    ("sample_max_tokens", 0, "≥ 1"),
    ("sample_max_tokens", "many", "must be a number"),
])
def test_bad_sample_keys_name_the_key_and_the_fix(workspace, key, value, words):
    with pytest.raises(ConfigFieldError) as err:
        make_cfg(workspace, **{key: value})
    assert key in str(err.value) and words in str(err.value)


def test_sample_defaults_and_one_text_is_one_prompt(workspace):
    cfg = make_cfg(workspace, steps_per_eval=7)
    assert cfg.sample_prompts is None and cfg.sample_max_tokens == 48 and cfg.effective_sample_every == 7
    assert "sample_prompts" not in cfg.to_yaml()   # the section is written only when samples are on
    one = make_cfg(workspace, sample_prompts="Hello, world", sample_every=2)
    assert one.sample_prompts == ["Hello, world"] and one.effective_sample_every == 2
    assert yaml.safe_load(one.to_yaml())["sample_prompts"] == ["Hello, world"]   # written back as one prompt


def test_a_bad_sample_key_on_the_command_line_is_one_line_and_leaves_nothing(workspace, capsys):
    config = workspace / "configs" / "cpt-demo.yaml"
    rc = cli.main(["--workspace", str(workspace), "train", str(config), "--name", "bad", "--set", "sample_every=0"])
    err = capsys.readouterr().err
    assert rc == 2 and "sample_every" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not [p for p in run_dirs(workspace) if p.name == "bad"]


def test_reader_skips_a_torn_line_and_picks_newest_and_nearest(tmp_path):
    lines = [{"iteration": it, "prompt": p, "text": f"{p}@{it}", "time": 1.0} for it in (0, 5, 10) for p in "ab"]
    body = "".join(json.dumps(r) + "\n" for r in lines)
    (tmp_path / "samples.jsonl").write_text(body + '{"iteration": 15, "prompt": "a", "te')
    records, end = read_samples(tmp_path)
    assert len(records) == 6 and end == len(body.encode())
    assert sample_iterations(records) == [0, 5, 10]
    assert [r["text"] for r in newest_per_prompt(records)] == ["a@10", "b@10"]
    assert [r["text"] for r in nearest(records, 7)] == ["a@5", "b@5"]
    assert [r["text"] for r in nearest(records, 99)] == ["a@10", "b@10"]
    assert truncate_samples(tmp_path, 5) == 2
    assert (tmp_path / "samples.jsonl").read_text().endswith("\n")       # the torn line is gone too
    assert sample_iterations(read_samples(tmp_path)[0]) == [0, 5]
    assert read_samples(tmp_path / "missing") == ([], 0)


def test_sampling_leaves_every_random_stream_alone(workspace):
    import mlx.core as mx

    from forgellm_tui.core.training.sampling import Sampler
    from forgellm_tui.core.training.setup import load_model

    cfg = make_cfg(workspace, sample_prompts=PROMPTS, sample_max_tokens=6, lora_dropout=0.2)
    model, tokenizer = load_model(workspace / cfg.model, cfg)
    model.train()
    mx.random.seed(1234)
    np.random.seed(5)
    random.seed(6)
    before = (np.array(mx.random.state[0]), np.random.get_state()[1].copy(), random.getstate())
    records = Sampler(cfg, tokenizer, workspace).sample(model, 3)
    after = (np.array(mx.random.state[0]), np.random.get_state()[1].copy(), random.getstate())
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1]) and before[2] == after[2]
    assert model.training                                               # train mode is restored
    assert [r["prompt"] for r in records] == PROMPTS and all(r["iteration"] == 3 for r in records)
    assert read_samples(workspace)[0] == records


def test_samples_are_written_and_a_resume_with_samples_on_is_bit_identical(workspace):
    over = dict(max_iterations=9, steps_per_report=3, steps_per_eval=4, save_every=4, lora_dropout=0.1)
    sampled = dict(sample_prompts=PROMPTS, sample_every=3, sample_max_tokens=8)
    plain = train(make_cfg(workspace, name="plain", **over))
    seen = Recorder()
    straight = train(make_cfg(workspace, name="straight", **over, **sampled), seen)
    assert plain.status == straight.status == "finished"
    assert _same_weights(_weights(plain.run_dir), _weights(straight.run_dir))   # sampling changed no training
    records, _ = read_samples(straight.run_dir)
    assert [(r["iteration"], r["prompt"]) for r in records] == [(it, p) for it in (0, 3, 6, 9) for p in PROMPTS]
    assert all(isinstance(r["text"], str) and isinstance(r["time"], float) for r in records)
    events = seen.by_type["Samples"]
    assert [e.iteration for e in events] == [0, 3, 6, 9] and list(events[-1].records) == records[-2:]

    def crash(iteration):
        if iteration == 8:
            raise RuntimeError("injected crash")

    cfg = make_cfg(workspace, name="crashed", **over, **sampled)
    crashed = train(cfg, fault_hook=crash)
    assert crashed.status == "failed" and crashed.iteration == 7
    assert sample_iterations(read_samples(crashed.run_dir)[0]) == [0, 3, 6]   # 6 is after checkpoint 4
    resumed = train(cfg, resume_from=crashed.run_dir)
    assert resumed.status == "finished"
    assert _same_weights(_weights(straight.run_dir), _weights(crashed.run_dir))
    assert _without_timing(metrics_lines(crashed.run_dir)) == _without_timing(metrics_lines(straight.run_dir))
    again, _ = read_samples(crashed.run_dir)
    strip = [{k: v for k, v in r.items() if k != "time"} for r in records]
    assert [{k: v for k, v in r.items() if k != "time"} for r in again] == strip   # 6 once, same words


def test_ift_prompts_are_user_messages_in_the_chat_template(workspace):
    from forgellm_tui.core.training.sampling import prompt_ids
    from forgellm_tui.core.training.setup import load_tokenizer

    cfg = make_cfg(workspace, training_type="ift", data="data/ift-demo", sample_prompts=["What is json?"])
    tokenizer = load_tokenizer(workspace / cfg.model, cfg)
    chat = tokenizer.decode(prompt_ids(tokenizer, "What is json?", chat=True))
    assert "user" in chat and "What is json?" in chat and chat.rstrip().endswith("assistant")  # the reply's turn
    plain = tokenizer.decode(prompt_ids(tokenizer, "def read_file(", chat=False))
    assert plain.endswith("def read_file(") and "user" not in plain                           # CPT: the text itself
