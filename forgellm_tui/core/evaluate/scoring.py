"""The numbers: token-weighted loss of a split, and log-likelihoods of multiple-choice continuations.

Both run the model forward only (no gradients). MLX is imported inside the functions.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.tokens import TokenRows
from forgellm_tui.core.training import make_batch


class EvalCancelled(ForgeError):
    """The user cancelled; no result file was written (results are written only when all are done)."""

    def __init__(self) -> None:
        super().__init__("evaluation cancelled — nothing was written")


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise EvalCancelled()


def split_loss(model, data: TokenRows, max_seq_length: int, batch_size: int,
               cancel: threading.Event | None = None, tick: Callable[[int], None] | None = None,
               lane_count: int | None = None) -> tuple[float, int]:
    """``(sum of the token losses, loss-bearing tokens)`` over every row of ``data``.

    The loss is training's cross-entropy over ``make_batch``'s targets (IFT rows count their answer
    only; see ``token_loss``); rows are grouped by length so little is padded, and none is dropped.
    On the CPU, batches are scored side by side in ``lane_count`` lanes (default: one per core, see
    ``lanes``); their losses are still added up in batch order, so the sum is the same.
    """
    import mlx.core as mx

    from forgellm_tui.core.evaluate.lanes import map_in_lanes
    from forgellm_tui.core.evaluate.token_loss import batch_loss

    order = np.argsort(data.lengths, kind="stable")
    starts = range(0, len(order), batch_size)
    mx.eval(model.parameters())  # weights still lazy (just loaded) are read here, not in every lane

    def score(start: int) -> tuple[float, int]:
        if cancel is not None and cancel.is_set():
            return 0.0, 0  # the caller raises EvalCancelled before using it
        batch, targets = make_batch(data, order[start:start + batch_size], max_seq_length)
        return batch_loss(model, batch, targets)

    total, tokens = 0.0, 0
    scored = map_in_lanes(score, starts, lane_count)
    try:
        for start, (loss, count) in zip(starts, scored):
            check_cancel(cancel)
            total += loss
            tokens += count
            if tick is not None:
                tick(min(start + batch_size, len(order)))
    finally:
        scored.close()  # a cancel or an error: the lanes stop before the model is touched again
    return total, tokens


def choice_sequences(tokenizer, query: str, choices: tuple[str, ...]) -> list[tuple[list[int], int]]:
    """``(ids, first continuation position)`` per choice, tokenized as lm-eval does.

    Trailing whitespace of the query moves to the start of each choice; the continuation is what
    encoding query + choice adds after the query's own ids. An empty query starts from EOS.
    """
    stripped = query.rstrip()
    moved = query[len(stripped):]
    context = tokenizer.encode(stripped) if stripped else []
    prefix = context or [tokenizer.eos_token_id]
    out = []
    for choice in choices:
        whole = tokenizer.encode(stripped + moved + choice)
        continuation = whole[len(context):] if stripped else whole
        if not continuation:  # the choice merged into the query's last token: score the choice on its own
            continuation = tokenizer.encode(moved + choice)
        out.append((list(prefix) + list(continuation), len(prefix)))
    return out


def choice_logliks(model, tokenizer, query: str, choices: tuple[str, ...]) -> list[float]:
    """The summed log-probability of each choice's tokens after the query (one forward pass for all)."""
    import mlx.core as mx

    seqs = choice_sequences(tokenizer, query, choices)
    width = max(len(ids) for ids, _ in seqs)
    batch = np.zeros((len(seqs), width), np.int32)
    for row, (ids, _) in enumerate(seqs):
        batch[row, :len(ids)] = ids
    inputs = mx.array(batch)
    logits = model(inputs[:, :-1]).astype(mx.float32)
    logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    picked = mx.take_along_axis(logprobs, inputs[:, 1:, None], axis=-1)[..., 0]
    picked = np.array(picked).astype(np.float64)
    # position t of ``picked`` scores token t + 1: a choice's tokens are positions start-1 .. len-2
    return [float(picked[row, start - 1:len(ids) - 1].sum()) for row, (ids, start) in enumerate(seqs)]
