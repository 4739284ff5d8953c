"""The training engine on the real demo model: run folder, metrics, best checkpoint, IFT, fine-tune types."""

from __future__ import annotations

import json
import math

import pytest

from forgellm_tui.core import events as ev
from forgellm_tui.core.events import METRIC_FIELDS
from forgellm_tui.core.runs.reader import list_runs, read_metrics, read_run
from forgellm_tui.core.training import estimate, train
from forgellm_tui.settings import Settings

from train_helpers import Recorder, make_cfg, metrics_lines, oom_once, run_json, small_ift

pytestmark = pytest.mark.slow


def test_cpt_run_writes_a_complete_run_folder(workspace, capsys):
    rec = Recorder()
    result = train(make_cfg(workspace, name="basic", max_iterations=6, lora_dropout=0.1), rec)
    run = workspace / "models" / "cpt" / "basic"
    assert result.status == "finished" and result.iteration == 6 and result.run_dir == run
    assert rec.states() == ["starting", "running", "finished"]
    # what a user sees on disk
    info = run_json(run)
    assert info["status"] == "finished" and info["iteration"] == 6 and info["pid"] and info["ended_at"]
    for name in ("config.yaml", "adapter_config.json", "adapters.safetensors", "metrics.jsonl", "best"):
        assert (run / name).exists(), name
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["0000003", "0000006"]
    for ckpt in (run / "checkpoints").iterdir():
        state = json.loads((ckpt / "state.json").read_text())
        assert {"iteration", "data", "rng", "trained_tokens", "tracker"} <= set(state)
        assert (ckpt / "optimizer.safetensors").is_file() and (ckpt / "adapter_config.json").is_file()
    # metrics: the METRIC_FIELDS in order, one record per report/validation, the same records the events carried
    records = metrics_lines(run)
    assert [r["iteration"] for r in records] == [0, 2, 3, 4, 6]
    assert all(list(r) == list(METRIC_FIELDS) for r in records)
    assert records == [m.record() for m in rec.by_type["Metrics"]]
    assert records[0]["training_loss"] is None and records[0]["validation_loss"] > 8   # untrained baseline
    assert records[-1]["validation_loss"] < records[0]["validation_loss"]                # it learned
    assert all(r["gpu_utilization"] is None for r in records)
    last = records[-1]
    assert last["trained_tokens"] > 0 and last["gradient_norm"] > 0 and last["eta_seconds"] == 0
    # best/ holds the lowest validation loss after training started
    vals = [(r["validation_loss"], r["iteration"]) for r in records if r["validation_loss"] is not None and r["iteration"]]
    best_state = json.loads((run / "best" / "state.json").read_text())
    assert best_state["iteration"] == min(vals)[1] == info["best_iteration"]
    # mlx-lm can load the run folder and the best checkpoint as adapters
    from mlx_lm import load

    for adapter in (run, run / "best", run / "checkpoints" / "0000003"):
        model, _ = load(str(workspace / "models/base/forge-tiny"), adapter_path=str(adapter))
    assert "[WARNING]" not in capsys.readouterr().out
    summary = read_run(run)
    assert summary.status == "finished" and summary.checkpoints == [3, 6] and summary.has_best
    assert [r.name for r in list_runs(Settings.load(workspace))] == ["basic"]


def test_ift_masks_the_prompt_and_warns_about_truncation(workspace):
    rec = Recorder()
    cfg = make_cfg(workspace, name="ift", training_type="ift", data=small_ift(workspace), max_seq_length=48,
                   max_iterations=3, steps_per_eval=3)
    result = train(cfg, rec)
    assert result.status == "finished"
    started = rec.by_type["RunStarted"][0]
    assert started.training_type == "ift" and started.train_examples == 64
    warnings = [e.message for e in rec.by_type["LogLine"] if e.level == "warning"]
    assert any("longer than max_seq_length=48" in w for w in warnings)   # a log event, not a print
    from forgellm_tui.core.tokens.rows import tokenize
    from forgellm_tui.core.training.data import read_split
    from mlx_lm.utils import load_tokenizer

    rows, fmt = read_split(workspace / "data/ift-small/train.jsonl", cfg)
    data = tokenize(rows[:4], fmt, load_tokenizer(workspace / "models/base/forge-tiny"), cfg)
    assert fmt == "chat" and all(0 < o < n for o, n in zip(data.offsets, data.lengths))


def test_packing_fills_every_row(workspace):
    rec = Recorder()
    data = workspace / "data" / "raw-docs"
    data.mkdir()
    docs = sorted((workspace / "dataset" / "core").glob("*.txt"))[:6]
    (data / "train.jsonl").write_text("".join(json.dumps({"text": p.read_text()[:3000]}) + "\n" for p in docs))
    result = train(make_cfg(workspace, name="packed", data="data/raw-docs", packing=True, max_seq_length=64,
                            max_iterations=2), rec)
    assert result.status == "finished"
    assert not [e for e in rec.by_type["LogLine"] if "truncated" in e.message]
    assert "no validation data" in " ".join(e.message for e in rec.by_type["LogLine"])
    started = rec.by_type["RunStarted"][0]
    assert started.train_examples == started.train_tokens // 64


@pytest.mark.parametrize("fine_tune_type", ["dora", "full"])
def test_dora_and_full_fine_tuning_load_in_mlx_lm(workspace, fine_tune_type):
    rec = Recorder()
    result = train(make_cfg(workspace, name=fine_tune_type, fine_tune_type=fine_tune_type, num_layers=2,
                            max_iterations=2, save_every=2, steps_per_eval=2), rec)
    assert result.status == "finished"
    started = rec.by_type["RunStarted"][0]
    assert 0 < started.trainable_parameters < started.total_parameters
    from mlx_lm import load

    load(str(workspace / "models/base/forge-tiny"), adapter_path=str(result.run_dir))


def test_qlora_on_a_quantized_model(workspace):
    from mlx_lm.convert import convert

    convert(str(workspace / "models/base/forge-tiny"), str(workspace / "models/base/tiny-4bit"), quantize=True,
            q_bits=4, q_group_size=64)
    # quantized matmuls are slow on CPU: one short step
    result = train(make_cfg(workspace, name="qlora", model="models/base/tiny-4bit", max_iterations=1, batch_size=1,
                            max_seq_length=32, save_every=1, val_batches=1))
    assert result.status == "finished" and math.isfinite(result.last_training_loss)
    from forgellm_tui.core.config.model import ConfigFieldError

    with pytest.raises(ConfigFieldError, match="non-quantized") as info:
        train(make_cfg(workspace, name="qfull", model="models/base/tiny-4bit", fine_tune_type="full"))
    assert info.value.key == "fine_tune_type"
    assert not (workspace / "models/cpt/qfull").exists()


def test_grad_checkpoint_is_per_model_and_idempotent(workspace):
    short = dict(max_iterations=2, val_batches=0, save_every=2)
    plain = train(make_cfg(workspace, name="plain", **short))
    first = train(make_cfg(workspace, name="ckpt1", grad_checkpoint=True, **short))
    second = train(make_cfg(workspace, name="ckpt2", grad_checkpoint=True, **short))
    assert plain.last_training_loss == pytest.approx(first.last_training_loss, rel=1e-5)
    assert first.last_training_loss == pytest.approx(second.last_training_loss, rel=1e-6)
    from mlx_lm.models.llama import TransformerBlock

    assert "_forgellm_original_call" in TransformerBlock.__dict__
    original = TransformerBlock.__dict__["_forgellm_original_call"]
    assert getattr(original, "__name__", "") == "__call__"   # wrapped once, not twice


def test_early_stopping_when_validation_stops_improving(workspace):
    rec = Recorder()
    cfg = make_cfg(workspace, name="early", learning_rate=1e-9, max_iterations=40, steps_per_eval=2, save_every=50,
                   early_stopping_patience=2, min_loss_improvement=0.01)
    result = train(cfg, rec)
    assert result.status == "stopped" and result.iteration == 6 and "early stop" in result.reason
    assert rec.by_type["EarlyStop"] and "no validation improvement" in rec.by_type["EarlyStop"][0].reason
    info = run_json(result.run_dir)
    assert info["status"] == "stopped" and "early stop" in info["stop_reason"]
    assert (result.run_dir / "checkpoints" / "0000006").is_dir()     # saved before stopping
    assert json.loads((result.run_dir / "best" / "state.json").read_text())["iteration"] in (2, 4, 6)


def test_failure_is_recorded_and_earlier_files_stay_readable(workspace):
    rec = Recorder()

    def boom(iteration):
        if iteration == 5:
            raise ValueError("disk on fire")

    result = train(make_cfg(workspace, name="fails", max_iterations=8), rec, fault_hook=boom)
    assert result.status == "failed" and "disk on fire" in result.error and result.iteration == 4
    info = run_json(result.run_dir)
    assert info["status"] == "failed" and "ValueError: disk on fire" in info["error"]
    assert "Traceback" in (result.run_dir / "error.log").read_text()
    assert rec.states()[-1] == "failed" and rec.by_type["ErrorEvent"][0].kind == "error"
    records, _ = read_metrics(result.run_dir)
    assert [r["iteration"] for r in records] == [0, 2, 3, 4]
    from mlx_lm import load

    load(str(workspace / "models/base/forge-tiny"), adapter_path=str(result.run_dir / "checkpoints" / "0000003"))


def test_out_of_memory_halves_the_batch_and_continues(workspace):
    rec = Recorder()
    result = train(make_cfg(workspace, name="oom", batch_size=4, max_iterations=6), rec, fault_hook=oom_once(5))
    assert result.status == "finished" and result.iteration == 6
    assert result.oom_recoveries == [{"iteration": 4, "error": result.oom_recoveries[0]["error"], "batch_size": 2,
                                      "grad_accumulation_steps": 2, "restarted_from": "0000003"}]
    oom = [e for e in rec.by_type["ErrorEvent"] if e.kind == "oom"]
    assert oom and oom[0].recovered
    info = run_json(result.run_dir)
    assert info["status"] == "finished" and info["oom_recoveries"][0]["batch_size"] == 2
    from forgellm_tui.core.config.model import load_config

    saved = load_config(result.run_dir / "config.yaml", settings=Settings.load(workspace))
    assert (saved.batch_size, saved.grad_accumulation_steps) == (2, 2)
    final = json.loads((result.run_dir / "checkpoints" / "0000006" / "state.json").read_text())
    assert (final["batch_size"], final["grad_accumulation_steps"]) == (2, 2)
    iterations = [r["iteration"] for r in metrics_lines(result.run_dir)]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 6   # no duplicate records


def test_estimate_and_epochs(workspace):
    cfg = make_cfg(workspace, batch_size=4, grad_accumulation_steps=2, save_every=5, steps_per_eval=4,
                   max_iterations=20)
    est = estimate(cfg)
    assert est.train_examples == 96 and est.valid_examples == 12
    assert est.steps_per_epoch == 12 and est.epochs == pytest.approx(20 / 12)
    assert est.checkpoints == 4 and est.validations == 1 + 5
    assert est.train_tokens > 96 * 100 and not est.tokens_exact    # demo lines carry metadata token counts
    from forgellm_tui.core.config.model import from_dict

    by_epochs = estimate(from_dict({"model": "models/base/forge-tiny", "data": "data/cpt-small", "epochs": 2.5,
                                    "batch_size": 4}, workspace=workspace))
    assert by_epochs.max_iterations == math.ceil(2.5 * 24) and by_epochs.epochs == pytest.approx(2.5)


def test_state_values_are_final_states():
    assert set(ev.FINAL_STATES) == {"finished", "stopped", "failed"}
