"""The summed cross-entropy of one batch's target tokens: what training's ``masked_loss`` averages.

On the CPU the model's forward pass runs in MLX and the cross-entropy over the vocabulary in NumPy.
MLX's CPU backend computes ``exp`` one value at a time on x86 (about 15 ns each, no vector
instructions), and a batch's log-sum-exp is rows x width x vocabulary of them: for the demo model (4,096
tokens) that was a quarter of the whole forward pass. NumPy's vectorised ``exp`` does the same in about a
tenth of the time. The logits are read in place (no copy); the vocabulary-wide work goes in chunks of
target positions, so its scratch memory stays small whatever the vocabulary. On a GPU MLX computes it all.
"""

from __future__ import annotations

import numpy as np

#: Scratch floats per chunk of target positions (16 MiB): positions per chunk = this // vocabulary.
CHUNK_FLOATS = 1 << 22


def batch_loss(model, tokens: np.ndarray, targets: np.ndarray) -> tuple[float, int]:
    """``(sum of the target tokens' cross-entropy, target tokens)`` of one ``make_batch`` batch.

    ``targets[b, j]`` marks token ``j + 1`` of row b as a target (the answer tokens of IFT rows, never a pad).
    """
    import mlx.core as mx

    if mx.default_device().type != mx.cpu:
        from forgellm_tui.core.training import masked_loss

        loss, ntoks = masked_loss(model, mx.array(tokens), mx.array(targets))
        count = int(ntoks.item())
        return float(loss.item()) * count, count  # the batch mean times its tokens
    logits = model(mx.array(tokens[:, :-1]))
    if logits.dtype != mx.float32:  # NumPy has no bfloat16
        logits = logits.astype(mx.float32)
    mx.eval(logits)
    return cross_entropy_sum(np.asarray(memoryview(logits)), tokens[:, 1:], targets)


def cross_entropy_sum(logits: np.ndarray, labels: np.ndarray, targets: np.ndarray) -> tuple[float, int]:
    """``(sum over marked positions of logsumexp(logits) - logit of the label, marked positions)``.

    ``logits`` is ``[rows, positions, vocabulary]``; ``labels`` and ``targets`` are ``[rows, positions]``.
    The per-token losses are float32, as MLX's; their sum is float64.
    """
    rows, cols = np.nonzero(targets)
    step = max(1, CHUNK_FLOATS // logits.shape[-1])
    total = 0.0
    for start in range(0, len(rows), step):
        r, c = rows[start:start + step], cols[start:start + step]
        x = logits[r, c]  # [n, vocabulary], a copy: overwritten below
        label = x[np.arange(len(r)), labels[r, c]]
        top = x.max(axis=1)
        np.subtract(x, top[:, None], out=x)
        np.exp(x, out=x)
        total += float(np.sum(np.log(x.sum(axis=1)) + top - label, dtype=np.float64))
    return total, len(rows)
