"""Preference losses (DPO, ORPO) on the summed log-probabilities of each pair's two answers.

Inputs follow the batch layout: a vector of ``2B`` values, the ``B`` chosen answers first, then the
``B`` rejected ones in the same pair order. Everything stays an ``mx.array`` (no ``.item()``), so the
functions work inside ``mx.compile`` and ``nn.value_and_grad``; metrics are mx scalars.
"""

from __future__ import annotations


def sequence_logps(model, tokens, mask):
    """``(logps[2B], lengths[2B])``: each row's summed log-probability of its answer tokens (float32),
    and how many answer tokens it has. ``mask[r, j]`` marks token ``j + 1`` of row ``r`` as an answer token."""
    import mlx.core as mx
    import mlx.nn as nn

    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    logits = model(inputs).astype(mx.float32)
    token_logps = -nn.losses.cross_entropy(logits, targets)
    mask = mask.astype(mx.float32)
    return (token_logps * mask).sum(axis=1), mask.sum(axis=1)


def _halves(values):
    """``(chosen[B], rejected[B])`` of a ``[2B]`` vector, or of a ``[B, 2]`` table (chosen, rejected)."""
    if values.ndim == 2:
        return values[:, 0], values[:, 1]
    half = values.shape[0] // 2
    return values[:half], values[half:]


def _neg_log_sigmoid(x):
    import mlx.core as mx

    return mx.logaddexp(mx.zeros_like(x), -x)  # -log(sigmoid(x)) = log(1 + exp(-x)), stable for large |x|


def dpo_loss(policy_logps, reference_logps, beta: float):
    """Sigmoid DPO, mean over pairs: ``-log sigmoid(beta * ((pc - rc) - (pr - rr)))``.

    ``reference_logps`` is laid out like ``policy_logps`` (``[2B]``) or as ``[B, 2]`` rows (chosen,
    rejected) taken from the stored reference. Metrics: ``rewards_chosen``/``rewards_rejected`` (mean of
    ``beta * (policy - reference)``), ``reward_margin`` (their difference) and ``reward_accuracy``
    (fraction of pairs whose chosen reward is the higher).
    """
    import mlx.core as mx

    policy_c, policy_r = _halves(policy_logps)
    ref_c, ref_r = _halves(reference_logps.astype(mx.float32))
    chosen, rejected = beta * (policy_c - ref_c), beta * (policy_r - ref_r)
    margin = chosen - rejected
    loss = _neg_log_sigmoid(margin).mean()
    metrics = {"rewards_chosen": chosen.mean(), "rewards_rejected": rejected.mean(), "reward_margin": margin.mean(),
               "reward_accuracy": (margin > 0).astype(mx.float32).mean()}
    return loss, metrics


def orpo_loss(policy_logps, answer_lengths, lam: float):
    """ORPO: NLL of the chosen answers plus ``lam * -log sigmoid(log odds ratio)``, as the ORPO paper and
    TRL compute it.

    The NLL is per token over every chosen answer token of the batch; the odds of an answer use its
    length-normalised log-probability ``p``: ``log odds = p - log(1 - exp(p))``. Metrics:
    ``log_odds_ratio`` (mean over pairs), ``nll`` and ``reward_accuracy`` (fraction of pairs whose
    chosen answer has the higher log odds).
    """
    import mlx.core as mx

    lengths = mx.maximum(answer_lengths.astype(mx.float32), 1.0)
    mean_logps = policy_logps / lengths
    # a probability that rounds to 1 would make log(1 - p) infinite; keep it just below
    mean_logps = mx.minimum(mean_logps, -1e-6)
    log_odds = mean_logps - mx.log1p(-mx.exp(mean_logps))
    odds_c, odds_r = _halves(log_odds)
    logps_c, _ = _halves(policy_logps)
    lengths_c, _ = _halves(lengths)
    ratio = odds_c - odds_r
    nll = -logps_c.sum() / lengths_c.sum()
    loss = nll + lam * _neg_log_sigmoid(ratio).mean()
    metrics = {"log_odds_ratio": ratio.mean(), "nll": nll, "reward_accuracy": (ratio > 0).astype(mx.float32).mean()}
    return loss, metrics
