"""The memory estimate: read from the model's files, checked against real runs, and the advice it gives."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from forgellm_tui.core.config.model import from_dict, load_config
from forgellm_tui.core.memory import (Machine, estimate_for, estimate_memory, machine_memory, parse_size,
                                      read_model_shape)
from forgellm_tui.core.models import files
from forgellm_tui.core.training.data import BatchStream, epoch_order, make_batch
from forgellm_tui.core.training.engine import train
from forgellm_tui.core.tokens import TokenRows
from forgellm_tui.settings import Settings

from train_helpers import make_cfg, run_json, small_ift

MB = 1 << 20


def _cfg(**over):
    raw = {"model": "m", "data": "d", "batch_size": 8, "max_seq_length": 128, "lora_rank": 16}
    raw.update(over)
    return from_dict(raw, workspace=Path("/tmp"))


def test_shape_comes_from_the_headers_without_loading(demo_model):
    shape = read_model_shape(demo_model)
    size = sum(p.stat().st_size for p in files.weight_files(demo_model))
    config = json.loads((demo_model / "config.json").read_text())
    assert (shape.layers, shape.hidden, shape.intermediate, shape.vocab) == (
        4, 256, 704, config["vocab_size"])
    assert size - 100_000 < shape.weight_bytes <= size          # every tensor's bytes; the header is the rest
    assert shape.parameters * 4 == shape.weight_bytes and shape.compute_bytes == 4
    assert sorted(lin.key for lin in shape.block_linears) == [
        "mlp.down_proj", "mlp.gate_proj", "mlp.up_proj", "self_attn.k_proj", "self_attn.o_proj",
        "self_attn.q_proj", "self_attn.v_proj"]


def test_the_parts_move_the_way_the_settings_do(demo_model):
    shape = read_model_shape(demo_model)

    def est(**over):
        return estimate_memory(_cfg(**over), shape)

    lora, full, dora = est(), est(fine_tune_type="full"), est(fine_tune_type="dora")
    assert full.trainable > 10 * lora.trainable and full.optimizer > 2 * full.trainable     # AdamW: 2 moments + update
    assert dora.trainable > lora.trainable and dora.activations > lora.activations
    assert est(grad_checkpoint=True).activations < lora.activations / 2
    assert est(num_layers=2).activations < 0.75 * lora.activations and est(num_layers=2).trained_blocks == 2
    assert est(batch_size=4).logits == lora.logits // 2
    assert est(optimizer="sgd").optimizer < lora.optimizer
    assert est(max_seq_length=512).activations > 4 * lora.activations                # the scores grow with T²
    assert estimate_memory(_cfg(), shape, tokens=64).total < lora.total                 # a shorter widest batch


def test_will_not_fit_names_the_first_change_that_fits(demo_model):
    need = estimate_for(_cfg(), demo_model, machine=Machine(64 << 30, 64 << 30, "test")).total
    tight = estimate_for(_cfg(), demo_model, machine=Machine(need // 2, need // 2, "test"))
    assert tight.fits is False
    assert tight.advice.startswith("first fix: batch_size 8 → ")
    assert "same 8 rows per optimizer update" in tight.advice
    assert any(line.startswith("⚠ will not fit; first fix: batch_size 8") for line in tight.lines())
    # batch 1 cannot be halved: grad_checkpoint is the next change tried
    one = _cfg(batch_size=1)
    need_one = estimate_for(one, demo_model).total
    gc = estimate_for(dataclasses.replace(one, grad_checkpoint=True), demo_model).total
    room = (need_one + gc) // 2
    assert estimate_for(one, demo_model, machine=Machine(room, room, "test")).advice.startswith(
        "first fix: grad_checkpoint: true")
    assert estimate_for(one, demo_model, machine=Machine(MB, MB, "test")).advice is None   # nothing fits in 1 MiB
    assert estimate_for(_cfg(), demo_model, machine=Machine(need * 2, need * 2, "test")).fits is True


def test_machine_memory_from_meminfo_or_the_variable(monkeypatch):
    monkeypatch.delenv("FORGELLM_MEMORY", raising=False)
    found = machine_memory()
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(next(line for line in meminfo.splitlines() if line.startswith("MemTotal")).split()[1])
    assert found.total == total_kib * 1024 and 0 < found.available <= found.total
    monkeypatch.setenv("FORGELLM_MEMORY", "12G")
    assert machine_memory() == Machine(12 << 30, 12 << 30, "(FORGELLM_MEMORY=12G)")
    assert parse_size("512M") == 512 * MB and parse_size("1.5GiB") == 3 << 29 and parse_size("lots") is None


# --------------------------------------------------------------------------- against real runs

@pytest.mark.slow
@pytest.mark.parametrize("name", ["cpt-demo.yaml", "ift-demo.yaml"])
def test_estimate_is_within_a_quarter_of_the_measured_peak(workspace, name):
    """The demo configs, a few real steps: run.json holds the estimate, the measured peak and their error."""
    cfg = load_config(workspace / "configs" / name, settings=Settings.load(workspace))
    cfg = dataclasses.replace(cfg, max_iterations=3, steps_per_eval=100, val_batches=2, save_every=100)
    result = train(cfg)
    assert result.status == "finished"
    memory = run_json(result.run_dir)["memory"]
    estimate, measured = memory["estimate"]["total"], memory["measured"]["mlx_peak"]
    assert memory["estimate_error"] == pytest.approx(abs(estimate - measured) / measured, abs=1e-4)
    assert memory["estimate_error"] <= 0.25, memory
    assert memory["measured"]["process_peak_rss"] >= measured
    assert memory["estimate"]["fits"] is True and memory["estimate"]["machine_total"] > 0
    log = [json.loads(line)["message"] for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    assert any(line.startswith("memory: ~") and "expected peak" in line for line in log[:8])


# --------------------------------------------------------------------------- the widest batch first

def _rows(lengths):
    flat = np.arange(sum(lengths), dtype=np.int32) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return TokenRows(flat, starts, np.array(lengths, np.int64), np.zeros(len(lengths), np.int64))


def test_the_first_step_gets_the_longest_batch_then_the_planned_order():
    lengths = np.random.RandomState(4).randint(5, 300, 203)
    data = _rows(lengths.tolist())
    stream = BatchStream(data, 4, 512, seed=1)
    widths = [stream.next()[0].shape[1] for _ in range(stream.batches_per_epoch)]
    assert widths[0] == max(widths) == make_batch(data, np.array([int(np.argmax(lengths))]), 512)[0].shape[1]
    first = epoch_order(lengths, 4, 1, 0)
    assert int(np.argmax(lengths)) in first[0].tolist()
    assert sorted(map(tuple, first)) == sorted(map(tuple, epoch_order(lengths, 4, 1, 0)))     # same batches
    later = epoch_order(lengths, 4, 1, 1)                                                    # other epochs: as planned
    assert [b.tolist() for b in later] == [b.tolist() for b in epoch_order(lengths, 4, 1, 1)]


@pytest.mark.slow
def test_widest_first_keeps_an_exact_resume(workspace):
    """IFT rows of many lengths: stopped at iteration 3 and resumed, the weights equal the straight run's
    bit for bit."""
    import mlx.core as mx

    from forgellm_tui.core.training import TrainingControl

    data = small_ift(workspace)
    over = dict(data=data, training_type="ift", max_iterations=6, save_every=3, steps_per_eval=100, val_batches=1,
                lora_dropout=0.1)
    straight = train(make_cfg(workspace, name="straight", **over))
    control = TrainingControl()
    stopped = train(make_cfg(workspace, name="stopped", **over), control=control,
                    fault_hook=lambda it: control.stop("test") if it == 3 else None)
    assert stopped.status == "stopped" and stopped.iteration == 3
    resumed = train(make_cfg(workspace, name="stopped", **over), resume_from=stopped.run_dir)
    assert resumed.status == "finished" and resumed.iteration == 6
    a = mx.load(str(straight.run_dir / "adapters.safetensors"))
    b = mx.load(str(resumed.run_dir / "adapters.safetensors"))
    assert a.keys() == b.keys() and all(mx.array_equal(a[k], b[k]).item() for k in a)


def test_a_quantized_model_counts_packed_weights_and_real_layer_sizes(demo_model, tmp_path):
    import shutil

    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_flatten
    from mlx_lm import load

    model, _ = load(str(demo_model))
    nn.quantize(model, group_size=64, bits=4)
    out = tmp_path / "tiny-4bit"
    shutil.copytree(demo_model, out, ignore=shutil.ignore_patterns("*.safetensors"))
    mx.save_safetensors(str(out / "model.safetensors"), dict(tree_flatten(model.parameters())))
    config = json.loads((demo_model / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(dict(config, quantization={"group_size": 64, "bits": 4})))
    plain, packed = read_model_shape(demo_model), read_model_shape(out)
    assert packed.quant_bits == 4 and packed.weight_bytes < plain.weight_bytes / 4
    assert sorted((l.key, l.in_dims, l.out_dims) for l in packed.block_linears) == \
        sorted((l.key, l.in_dims, l.out_dims) for l in plain.block_linears)
    lora = estimate_memory(_cfg(), packed)
    assert lora.trainable == estimate_memory(_cfg(), plain).trainable and lora.weights == packed.weight_bytes
