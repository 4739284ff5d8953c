"""The pre-run estimate: what a run will cover (rows, tokens, steps, epochs, checkpoints) and the
memory it will need, from the config, the data and the model's files (no model is built)."""

from __future__ import annotations

from dataclasses import dataclass

from forgellm_tui.core.config import TrainingConfig
from forgellm_tui.core.distributed import world_size as ranks_for
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.memory import MemoryEstimate, estimate_for
from forgellm_tui.core.tokens import load_or_tokenize
from forgellm_tui.core.training.data import pack
from forgellm_tui.core.training.memory_report import widest
from forgellm_tui.core.training.preflight import Plan, iterations_for, preflight
from forgellm_tui.core.training.setup import load_tokenizer


@dataclass(frozen=True)
class Estimate:
    """What a run will cover, shown before it starts."""

    data_format: str
    train_examples: int          # training rows (after packing when packing is on)
    valid_examples: int
    train_tokens: int
    valid_tokens: int
    tokens_exact: bool           # False when counted from the lines' metadata
    steps_per_epoch: float       # optimizer steps per pass over the training rows
    max_iterations: int
    epochs: float                # passes over the data the run covers
    tokens_per_iteration: float
    checkpoints: int
    validations: int
    truncated_rows: int          # rows longer than max_seq_length (cut)
    world_size: int = 1          # ranks of a distributed run (each trains batch_size / world_size rows)
    memory: MemoryEstimate | None = None   # expected peak memory (None when the model cannot be read)

    def lines(self) -> list[str]:
        ranks = ([f"ranks: {self.world_size} (data-parallel), {self.tokens_per_iteration / self.world_size:,.0f} "
                  "tokens per rank per iteration"] if self.world_size > 1 else [])
        return ranks + [f"data: {self.train_examples:,} training rows ({self.data_format}), {self.valid_examples:,} validation",
                f"tokens: {self.train_tokens:,} train, {self.valid_tokens:,} valid{'' if self.tokens_exact else ' (from metadata)'}",
                f"steps per epoch: {self.steps_per_epoch:,.1f}; {self.max_iterations:,} iterations = {self.epochs:.2f} epochs",
                f"checkpoints: {self.checkpoints}; validations: {self.validations}"] \
            + (self.memory.lines() if self.memory is not None else [])


def count_events(every: int, total: int, at_start: bool = False) -> int:
    return (1 if at_start else 0) + total // every + (1 if total % every else 0)


def make_estimate(plan: Plan, train_rows: int, valid_rows: int, train_tokens: int, valid_tokens: int,
                  exact: bool, truncated: int, width: int | None = None) -> Estimate:
    cfg = plan.cfg
    per_epoch = (train_rows // cfg.batch_size) / cfg.grad_accumulation_steps
    iters = iterations_for(cfg, train_rows)
    has_val = valid_rows > 0 and cfg.val_batches != 0
    avg = train_tokens / max(train_rows, 1)
    return Estimate(plan.scan.format, train_rows, valid_rows, train_tokens, valid_tokens, exact, per_epoch, iters,
                    iters / per_epoch if per_epoch else 0.0, avg * cfg.effective_batch,
                    count_events(cfg.save_every, iters), count_events(cfg.steps_per_eval, iters, True) if has_val else 0,
                    truncated, ranks_for(cfg), memory_of(plan, width))


def memory_of(plan: Plan, width: int | None) -> MemoryEstimate | None:
    """The memory estimate for the widest batch (``width``; None: ``max_seq_length``), or None when
    the model's files do not say enough (the rest of the estimate stands)."""
    try:
        return estimate_for(plan.cfg, plan.model_path, width, ranks_for(plan.cfg))
    except (ForgeError, OSError, ValueError, KeyError, TypeError):
        return None


def estimate(config: TrainingConfig) -> Estimate:
    """Dataset tokens, steps per epoch, epochs covered, checkpoints and validations (no model loaded)."""
    plan = preflight(config)
    cfg, scan = plan.cfg, plan.scan
    if cfg.is_preference:
        return _pair_estimate(plan)
    if scan.train_tokens is not None and scan.valid_tokens is not None and not cfg.packing:
        return make_estimate(plan, scan.train_rows, scan.valid_rows, scan.train_tokens, scan.valid_tokens, False, 0)
    tokenizer = load_tokenizer(plan.model_path, cfg)
    train, valid = load_or_tokenize(scan.folder, plan.model_path, plan.train_rows, plan.valid_rows, scan.format,
                                    tokenizer, cfg)
    truncated = int((train.lengths > cfg.max_seq_length).sum())
    if cfg.packing:
        train, valid = pack(train, cfg.max_seq_length), pack(valid, cfg.max_seq_length)
    return make_estimate(plan, len(train), len(valid), train.tokens, valid.tokens, True, truncated,
                         widest(train.lengths, cfg.max_seq_length))


def _pair_estimate(plan: Plan) -> Estimate:
    """DPO, ORPO: a row is a pair (both of its sequences are read); a batch of B pairs is 2B sequences."""
    from dataclasses import replace

    from forgellm_tui.core.training.pair_data import tokenized_pairs

    cfg = plan.cfg
    train, valid, _ = tokenized_pairs(cfg, plan, load_tokenizer(plan.model_path, cfg), lambda line: None)
    est = make_estimate(plan, len(train), len(valid), train.tokens, valid.tokens, True, train.truncated)
    doubled = replace(plan, cfg=replace(cfg, batch_size=2 * cfg.batch_size))
    return replace(est, memory=memory_of(doubled, widest(train.lengths(), cfg.max_seq_length)))
