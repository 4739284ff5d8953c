"""Preference losses against a hand computation in numpy: answer log-probs (padding never counts), sigmoid
DPO with its beta, ORPO with length-normalised odds; and the losses train inside mx.compile."""

from __future__ import annotations

import numpy as np
import pytest

from forgellm_tui.core.preference import dpo_loss, orpo_loss, sequence_logps, tokenize_pairs
from forgellm_tui.core.preference.batches import make_pair_batch
from preference_helpers import load_model, load_tokenizer, records

mx = pytest.importorskip("mlx.core")


class FixedLogits:
    """A 'model' whose logits are a fixed table: the log-probs are then known exactly."""

    def __init__(self, logits: np.ndarray):
        self.logits = logits

    def __call__(self, inputs):
        return mx.array(self.logits[:, :inputs.shape[1]])


def _np_logps(logits: np.ndarray, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    rows, cols = np.indices(tokens[:, 1:].shape)
    return (log_probs[rows, cols, tokens[:, 1:]] * mask).sum(axis=1)


def test_sequence_logps_sum_the_answer_tokens_only():
    rng = np.random.default_rng(0)
    tokens = np.array([[3, 1, 4, 1, 5, 0], [2, 7, 1, 8, 2, 8]], np.int32)
    mask = np.array([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]], np.float32)  # row 0: two answer tokens, then padding
    logits = rng.normal(size=(2, 5, 10)).astype(np.float32)
    logps, lengths = sequence_logps(FixedLogits(logits), mx.array(tokens), mx.array(mask))
    np.testing.assert_allclose(np.array(logps), _np_logps(logits, tokens, mask), rtol=1e-5)
    assert np.array(lengths).tolist() == [2.0, 4.0] and logps.dtype == mx.float32
    changed = logits.copy()
    changed[0, 0] += 5.0        # the prompt's prediction and the padding's
    changed[0, 4] -= 3.0
    again, _ = sequence_logps(FixedLogits(changed), mx.array(tokens), mx.array(mask))
    assert float(again[0]) == pytest.approx(float(logps[0]), rel=1e-6)


def test_padding_never_counts_on_the_demo_model(demo_model):
    """Each row's log-prob in a padded batch equals that sequence scored alone, unpadded."""
    pairs = tokenize_pairs(records(), load_tokenizer(demo_model), 256, "train.jsonl")
    model = load_model(demo_model)
    tokens, mask, ids = make_pair_batch(pairs, np.arange(len(pairs)))
    batched, lengths = sequence_logps(model, mx.array(tokens), mx.array(mask))
    for row in range(2 * len(ids)):
        seq, start = pairs.sequence(int(ids[row % len(ids)]), rejected=row >= len(ids))
        alone_mask = np.zeros((1, len(seq) - 1), np.float32)
        alone_mask[0, start - 1:] = 1
        alone, count = sequence_logps(model, mx.array(seq[None]), mx.array(alone_mask))
        assert float(batched[row]) == pytest.approx(float(alone[0]), rel=1e-4, abs=1e-3)
        assert float(lengths[row]) == float(count[0]) == len(seq) - start


def _np_log_sigmoid(x):
    return -np.logaddexp(0, -x)


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_loss_and_rewards_match_a_hand_computation(beta):
    policy = np.array([-10.0, -12.0, -30.0, -8.0, -15.0, -11.0], np.float32)   # chosen x3, rejected x3
    reference = np.array([-11.0, -12.5, -29.0, -9.0, -14.0, -10.0], np.float32)
    loss, metrics = dpo_loss(mx.array(policy), mx.array(reference), beta)
    chosen, rejected = beta * (policy[:3] - reference[:3]), beta * (policy[3:] - reference[3:])
    margin = chosen - rejected
    assert float(loss) == pytest.approx(float(np.mean(-_np_log_sigmoid(margin))), rel=1e-5)
    assert float(metrics["rewards_chosen"]) == pytest.approx(chosen.mean(), rel=1e-5)
    assert float(metrics["rewards_rejected"]) == pytest.approx(rejected.mean(), rel=1e-5)
    assert float(metrics["reward_margin"]) == pytest.approx(margin.mean(), rel=1e-5)
    assert float(metrics["reward_accuracy"]) == pytest.approx(np.mean(margin > 0))  # 2 of 3 pairs
    table, _ = dpo_loss(mx.array(policy), mx.array(np.stack([reference[:3], reference[3:]], axis=1)), beta)
    assert float(table) == pytest.approx(float(loss), rel=1e-6)  # the stored [N, 2] layout gives the same


def test_dpo_loss_is_log_2_when_the_policy_is_the_reference():
    logps = mx.array([-5.0, -7.0, -6.0, -2.0])
    loss, metrics = dpo_loss(logps, logps, 0.1)
    assert float(loss) == pytest.approx(np.log(2), rel=1e-6) and float(metrics["reward_margin"]) == 0


def test_orpo_loss_matches_a_hand_computation():
    logps = np.array([-4.0, -9.0, -6.0, -5.0], np.float32)   # chosen x2, rejected x2
    lengths = np.array([4.0, 3.0, 3.0, 10.0], np.float32)
    lam = 0.25
    loss, metrics = orpo_loss(mx.array(logps), mx.array(lengths), lam)
    mean = logps / lengths
    log_odds = mean - np.log1p(-np.exp(mean))
    ratio = log_odds[:2] - log_odds[2:]
    nll = -logps[:2].sum() / lengths[:2].sum()
    assert float(metrics["nll"]) == pytest.approx(nll, rel=1e-5)
    assert float(metrics["log_odds_ratio"]) == pytest.approx(ratio.mean(), rel=1e-5)
    assert float(metrics["reward_accuracy"]) == pytest.approx(0.5)  # pair 0 prefers chosen, pair 1 does not
    assert float(loss) == pytest.approx(nll + lam * np.mean(-_np_log_sigmoid(ratio)), rel=1e-5)


def test_losses_train_inside_compile_and_value_and_grad(demo_model):
    import mlx.nn as nn

    pairs = tokenize_pairs(records(), load_tokenizer(demo_model), 256, "train.jsonl")
    model = load_model(demo_model)
    tokens, mask, _ = (mx.array(a) for a in make_pair_batch(pairs, np.arange(4)))
    reference, _ = sequence_logps(model, tokens, mask)

    def dpo(model, tokens, mask, reference):
        logps, _ = sequence_logps(model, tokens, mask)
        return dpo_loss(logps, reference, 0.1)

    def orpo(model, tokens, mask):
        logps, lengths = sequence_logps(model, tokens, mask)
        return orpo_loss(logps, lengths, 0.1)

    for fn, args in ((dpo, (tokens, mask, reference)), (orpo, (tokens, mask))):
        step = nn.value_and_grad(model, lambda *a, fn=fn: fn(model, *a)[0])
        plain_loss, grads = step(*args)
        compiled = mx.compile(lambda *a, fn=fn: fn(model, *a))
        loss, metrics = compiled(*args)
        assert float(loss) == pytest.approx(float(plain_loss), rel=1e-4)
        assert all(m.ndim == 0 for m in metrics.values())
        from mlx.utils import tree_flatten
        assert any(float(mx.abs(g).sum()) > 0 for _, g in tree_flatten(grads))
    assert float(dpo(model, tokens, mask, reference)[0]) == pytest.approx(np.log(2), rel=1e-5)
