"""What a training session optimises: its batches, its loss, its validation pass and its extra metrics.

The ``Session`` (``loop.py``) owns the step, the optimizer, control, checkpoints and records; an
objective owns what differs between training types. ``LMObjective`` is next-token cross-entropy
over rows of tokens (CPT, IFT); ``PreferenceObjective`` (``preference_objective.py``) compares the
chosen and the rejected answer of each pair (DPO, ORPO).

The loss function is differentiated and compiled by the session: ``loss(model, *inputs)`` returns
``(loss, tokens, *metrics)`` as MLX scalars, where only ``loss`` is differentiated, ``tokens``
counts the loss-bearing tokens and ``metrics`` follow ``metric_names``.
"""

from __future__ import annotations

import numpy as np

from forgellm_tui.core.training.data import BatchStream, make_batch, target_tokens, validation_batches


def masked_loss(model, batch, mask):
    """Mean cross-entropy over the targets ``mask`` marks (``make_batch``'s: answer tokens, never a pad)."""
    import mlx.core as mx
    import mlx.nn as nn

    inputs, targets = batch[:, :-1], batch[:, 1:]
    logits = model(inputs)
    ce = nn.losses.cross_entropy(logits, targets) * mask
    ntoks = mask.sum()
    return ce.astype(mx.float32).sum() / mx.maximum(ntoks, 1), ntoks


class LMObjective:
    """Next-token cross-entropy on rows of tokens (CPT and IFT)."""

    metric_names: tuple[str, ...] = ()
    cancelled = False  # language modelling has no start-up work a stop could cut short

    def __init__(self, cfg, train_data, valid_data):
        self.cfg, self.train_data, self.valid_data = cfg, train_data, valid_data

    @staticmethod
    def loss(model, batch, mask):
        return masked_loss(model, batch, mask)

    def stream(self, epoch: int, index: int, shard: tuple[int, int]) -> BatchStream:
        cfg = self.cfg
        return BatchStream(self.train_data, cfg.batch_size, cfg.max_seq_length, cfg.seed, epoch, index, shard)

    def validation(self, shard: tuple[int, int]) -> list:
        cfg = self.cfg
        return validation_batches(self.valid_data, cfg.batch_size, cfg.max_seq_length, cfg.val_batches, shard)

    @staticmethod
    def inputs(item) -> tuple:
        import mlx.core as mx

        batch, lengths = item
        return mx.array(batch), mx.array(lengths)

    @staticmethod
    def local_weight(item) -> float:
        """What this rank's loss is averaged over (its loss-bearing tokens)."""
        return target_tokens(item[1])

    @staticmethod
    def global_weight(stream) -> float:
        """The same over the whole global batch the stream last returned (every rank knows it)."""
        return float(stream.last_tokens)

    def probe_inputs(self, rows: int, width: int) -> tuple:
        """Inputs of ``rows`` full rows of ``width`` tokens for the memory check (token 0 everywhere)."""
        import mlx.core as mx

        return (mx.array(np.zeros((rows, width), np.int32)),
                mx.array(np.ones((rows, width - 1), bool)))  # every position a target, as in a full row

    def widest(self) -> int:
        """The width of the widest training batch."""
        data = self.train_data
        return make_batch(data, np.array([int(np.argmax(data.lengths))]), self.cfg.max_seq_length)[0].shape[1]

    def evaluate(self, model, val, world) -> tuple[float | None, dict]:
        """The validation loss (token-weighted mean over every batch; None without a target token)."""
        import mlx.core as mx

        loss_sum, toks = 0.0, 0
        for item in val:
            if item is None:  # this rank's share of a small group is empty
                continue
            loss, ntoks = masked_loss(model, *self.inputs(item))
            mx.eval(loss, ntoks)
            loss_sum += loss.item() * ntoks.item()
            toks += int(ntoks.item())
        if world.size > 1:
            loss_sum, toks = world.sum_floats([loss_sum, toks])
        return (loss_sum / toks if toks > 0 else None), {}  # no target token: no loss (never 0, never best)

    def prepare(self, session, checkpoint) -> None:
        """Work before the first step (nothing for language modelling)."""


def make_objective(cfg, train_data, valid_data, run_path=None):
    """The objective of ``cfg.training_type``."""
    if cfg.is_preference:
        from forgellm_tui.core.training.preference_objective import PreferenceObjective

        return PreferenceObjective(cfg, train_data, valid_data)
    return LMObjective(cfg, train_data, valid_data)
