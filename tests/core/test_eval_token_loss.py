"""The test-split loss: NumPy's cross-entropy over MLX's logits equals training's ``masked_loss``; the
scoring LoRA layer gives the LoRA layer's output with the same parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forgellm_tui.core.evaluate import token_loss
from forgellm_tui.core.evaluate.token_loss import batch_loss, cross_entropy_sum


@pytest.fixture(scope="module")
def model(demo_model):
    from forgellm_tui.core.config import from_dict
    from forgellm_tui.core.training import load_model

    loaded, _ = load_model(demo_model, from_dict({"max_seq_length": 64}, require=()))
    loaded.eval()
    return loaded


def _mlx_sum(model, tokens, targets):
    import mlx.core as mx

    from forgellm_tui.core.training import masked_loss

    loss, ntoks = masked_loss(model, mx.array(tokens), mx.array(targets))
    return float(loss.item()) * int(ntoks.item()), int(ntoks.item())


def test_the_batch_loss_equals_trainings_masked_loss_with_answer_only_targets(model, monkeypatch):
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 4096, size=(3, 40)).astype(np.int32)
    targets = np.zeros((3, 39), bool)
    targets[0, 10:] = True    # an IFT row: the answer only
    targets[1, :25] = True    # a short row: the rest is padding
    targets[2, :] = True      # a full CPT row
    reference = _mlx_sum(model, tokens, targets)
    ours = batch_loss(model, tokens, targets)
    assert ours[1] == reference[1] == int(targets.sum())
    assert ours[0] == pytest.approx(reference[0], rel=1e-5)
    monkeypatch.setattr(token_loss, "CHUNK_FLOATS", 4096 * 7)  # chunks of 7 positions: the same sum
    assert batch_loss(model, tokens, targets)[0] == pytest.approx(ours[0], rel=1e-6)


def test_cross_entropy_by_hand():
    logits = np.array([[[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]], np.float32)
    labels = np.array([[2, 1]])
    both = cross_entropy_sum(logits, labels, np.array([[True, True]]))
    first = np.log(np.exp([0.0, 1.0, 2.0]).sum()) - 2.0
    second = np.log(np.exp([3.0, 0.0, 0.0]).sum()) - 0.0
    assert both[1] == 2 and both[0] == pytest.approx(first + second, rel=1e-6)
    assert cross_entropy_sum(logits, labels, np.array([[False, True]]))[0] == pytest.approx(second, rel=1e-6)
    assert cross_entropy_sum(logits, labels, np.zeros((1, 2), bool)) == (0.0, 0)


def test_the_scoring_lora_layer_matches_lora_and_keeps_its_parameter_names(model, demo_model, tmp_path):
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.tuner.utils import linear_to_lora_layers

    from forgellm_tui.core.config import from_dict
    from forgellm_tui.core.evaluate.adapters import attach
    from forgellm_tui.core.runs import checkpoints as ck
    from forgellm_tui.core.training import load_model

    lora = {"rank": 4, "scale": 20.0, "dropout": 0.0}
    (tmp_path / ck.ADAPTER_CONFIG).write_text(json.dumps({"fine_tune_type": "lora", "num_layers": 2,
                                                          "lora_parameters": lora}))
    cfg = from_dict({"max_seq_length": 64}, require=())
    plain, _ = load_model(demo_model, cfg)
    scoring, _ = load_model(demo_model, cfg)
    plain.freeze()
    linear_to_lora_layers(plain, 2, lora)
    attach(scoring, tmp_path)
    names = sorted(k for k, _ in tree_flatten(plain.trainable_parameters()))
    assert names and names == sorted(k for k, _ in tree_flatten(scoring.trainable_parameters()))
    swapped = [m for _, m in scoring.named_modules() if isinstance(m, LoRALinear)]
    assert swapped and all(type(m).__name__ == "ScoringLoRALinear" for m in swapped)
    # a trained adapter (B no longer zero): the same weights in both
    weights = [(k, mx.random.normal(v.shape) * 0.02) for k, v in tree_flatten(plain.trainable_parameters())]
    plain.load_weights(weights, strict=False)
    scoring.load_weights(weights, strict=False)
    plain.eval()
    scoring.eval()
    tokens = mx.array(np.arange(3, 43, dtype=np.int32)[None])
    expected, got = np.array(plain(tokens)), np.array(scoring(tokens))
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(expected, np.array(model(tokens)), atol=1e-3)  # the adapter changes the output
