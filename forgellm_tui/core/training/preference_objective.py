"""The preference objective (DPO, ORPO): one policy pass over the chosen and the rejected answer of each pair.

A batch of B pairs is ``tokens[2B, W]`` (rows 0..B-1 the chosen answers, B..2B-1 the rejected ones)
with a mask on the answers' target tokens. DPO compares the policy's summed log-probs with those of
the starting model (the reference), computed once before the first update, saved in the run folder
(``reference/<split>.npy``) and loaded on a resume, so a resumed run uses the very same numbers.
ORPO needs no reference. Records carry the objective's metrics (rewards, margin, accuracy or the
log odds ratio) besides the loss, which is what best checkpoints and early stopping compare.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from forgellm_tui.core import events as ev

DPO_METRICS = ("rewards_chosen", "rewards_rejected", "reward_margin", "reward_accuracy")
ORPO_METRICS = ("log_odds_ratio", "nll", "reward_accuracy")


def both_rows(pair_ids: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The reference log-probs of a batch's 2B rows: chosen of each pair, then rejected (float32)."""
    ref = reference[np.asarray(pair_ids)]
    return np.concatenate([ref[:, 0], ref[:, 1]]).astype(np.float32)


class PreferenceObjective:
    """DPO (with a reference) or ORPO (without) on a ``PairSet``; a batch's size counts pairs."""

    def __init__(self, cfg, train_data, valid_data):
        self.cfg, self.train_data, self.valid_data = cfg, train_data, valid_data
        self.dpo = cfg.training_type == "dpo"
        self.metric_names = DPO_METRICS if self.dpo else ORPO_METRICS
        self.reference: dict[str, np.ndarray] = {}
        self.cancelled = False  # a stop came while the reference was computed
        self.loss = self._dpo_loss if self.dpo else self._orpo_loss

    # ------------------------------------------------------------------ the loss (compiled by the session)
    def _dpo_loss(self, model, tokens, mask, reference):
        from forgellm_tui.core.preference import dpo_loss, sequence_logps

        logps, _ = sequence_logps(model, tokens, mask)
        loss, metrics = dpo_loss(logps, reference, self.cfg.beta)
        return (loss, mask.sum(), *(metrics[name] for name in DPO_METRICS))

    def _orpo_loss(self, model, tokens, mask):
        from forgellm_tui.core.preference import orpo_loss, sequence_logps

        logps, lengths = sequence_logps(model, tokens, mask)
        loss, metrics = orpo_loss(logps, lengths, self.cfg.orpo_lambda)
        return (loss, mask.sum(), *(metrics[name] for name in ORPO_METRICS))

    # ------------------------------------------------------------------ batches
    def stream(self, epoch: int, index: int, shard: tuple[int, int]):
        from forgellm_tui.core.preference import PairStream

        return PairStream(self.train_data, self.cfg.batch_size, self.cfg.seed, epoch, index, shard)

    def validation(self, shard: tuple[int, int]) -> list:
        from forgellm_tui.core.preference import pair_batches

        cfg = self.cfg
        if len(self.valid_data) == 0 or cfg.val_batches == 0:
            return []
        limit = None if cfg.val_batches < 0 else cfg.val_batches
        return pair_batches(self.valid_data, cfg.batch_size, limit, shard)  # this rank's pairs of each group

    def inputs(self, item, split: str = "train") -> tuple:
        import mlx.core as mx

        tokens, mask, ids = item
        out = (mx.array(tokens), mx.array(mask))
        return out + (mx.array(both_rows(ids, self.reference[split])),) if self.dpo else out

    @staticmethod
    def local_weight(item) -> float:
        """Pairs of this rank's share: the loss is a mean over pairs."""
        return float(len(item[2]))

    def global_weight(self, stream) -> float:
        return float(self.cfg.batch_size)

    def probe_inputs(self, rows: int, width: int) -> tuple:
        """``rows`` full pairs of ``width`` tokens (2 x rows sequences) for the memory check."""
        import mlx.core as mx

        out = (mx.array(np.zeros((2 * rows, width), np.int32)), mx.array(np.ones((2 * rows, width - 1), np.float32)))
        return out + (mx.zeros((2 * rows,), mx.float32),) if self.dpo else out

    def widest(self) -> int:
        from forgellm_tui.core.preference import pair_batches

        return max(item[0].shape[1] for item in pair_batches(self.train_data, 1, None))

    def evaluate(self, model, val, world) -> tuple[float | None, dict]:
        """Mean preference loss and metrics over the validation pairs (None when there is none)."""
        import mlx.core as mx

        sums, pairs = np.zeros(1 + len(self.metric_names)), 0.0
        for item in val:
            if item is None:
                continue
            value = self.loss(model, *self.inputs(item, "valid"))
            mx.eval(value)
            n = len(item[2])
            sums += n * np.array([value[0].item(), *(m.item() for m in value[2:])])
            pairs += n
        if world.size > 1:
            *summed, pairs = world.sum_floats([*sums.tolist(), pairs])
            sums = np.array(summed)
        if pairs == 0:
            return None, {}
        means = sums / pairs
        return float(means[0]), {f"val_{name}": float(v) for name, v in zip(self.metric_names, means[1:])}

    # ------------------------------------------------------------------ the reference (DPO)
    def prepare(self, session, checkpoint: Path | None) -> None:
        """DPO: the reference log-probs of every train and valid pair, loaded from the run folder or
        computed with the model as it is now (the starting weights: the session calls this before any
        adapter or checkpoint weights are loaded, and LoRA's zero-initialised B makes it the base model)."""
        if not self.dpo:
            return
        from forgellm_tui.core.preference import (compute_reference, load_reference, reference_identity,
                                                  save_reference)

        ctx = session.ctx
        for split, pairs in (("train", self.train_data), ("valid", self.valid_data)):
            if len(pairs) == 0:
                self.reference[split] = np.zeros((0, 2), np.float32)
                continue
            identity = reference_identity(Path(ctx.plan.data_dir) / f"{split}.jsonl", str(ctx.plan.model_path),
                                          ctx.cfg.max_seq_length)
            array = load_reference(ctx.run.path, split, identity)
            if array is None or len(array) != len(pairs):
                array = self._compute(session, compute_reference, split, pairs)
                if array is None:  # a stop during the computation: the run ends before its first step
                    self.cancelled = True
                    return
                if ctx.world.is_main:
                    save_reference(ctx.run.path, split, array, identity)
            self.reference[split] = np.asarray(array, np.float32)

    def _compute(self, session, compute_reference, split: str, pairs) -> np.ndarray:
        ctx, model = session.ctx, session.model
        ctx.log("info", f"DPO reference: log-probs of the {len(pairs):,} {split} pairs with the starting weights")
        started, last = time.perf_counter(), [0.0]

        def tick(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] < 0.5 and done < total:
                return
            last[0] = now
            rate = done / max(now - started, 1e-9)
            ctx.emit(ev.Progress(f"reference ({split})", done, total, "pairs", round(rate, 1),
                                 round((total - done) / rate, 1) if rate > 0 else None))

        return compute_reference(model, pairs, self.cfg.batch_size, cancel=lambda: ctx.control.stop_requested,
                                 tick=tick)
