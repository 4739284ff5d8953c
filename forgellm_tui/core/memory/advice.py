"""The first change that makes a run fit in memory, found by estimating the changed config again.

Tried in this order, each alone: a smaller batch with more gradient accumulation (the same rows per
optimizer step, so the training is unchanged, only slower), ``grad_checkpoint`` (recompute
activations: ~30% slower), shorter sequences (longer rows are cut), fewer trained layers (changes
what is learned). When no single change is enough, they are combined in that order.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

Estimator = Callable[[object], int]   # a config -> its expected peak bytes


def _smaller_batches(cfg) -> Iterator[tuple[object, str]]:
    batch, accum = cfg.batch_size, cfg.grad_accumulation_steps
    while batch > 1:
        batch, accum = batch // 2, accum * 2
        yield (dataclasses.replace(cfg, batch_size=batch, grad_accumulation_steps=accum),
               f"batch_size {cfg.batch_size} → {batch} with grad_accumulation_steps {accum} "
               f"(same {cfg.effective_batch} rows per optimizer update)")


def _checkpointing(cfg) -> Iterator[tuple[object, str]]:
    if not cfg.grad_checkpoint:
        yield dataclasses.replace(cfg, grad_checkpoint=True), "grad_checkpoint: true (~30% slower)"


def _shorter(cfg) -> Iterator[tuple[object, str]]:
    length = cfg.max_seq_length
    while length > 64:
        length //= 2
        yield (dataclasses.replace(cfg, max_seq_length=length),
               f"max_seq_length {cfg.max_seq_length} → {length} (longer rows are truncated)")


def _fewer_layers(cfg, layers: int) -> Iterator[tuple[object, str]]:
    count = layers if cfg.num_layers <= 0 else min(cfg.num_layers, layers)
    while count > 1:
        count //= 2
        yield dataclasses.replace(cfg, num_layers=count), f"num_layers {count} (of {layers}; trains fewer blocks)"


STEPS = (_smaller_batches, _checkpointing, _shorter)


def _candidates(cfg, layers: int):
    return [*(step(cfg) for step in STEPS), _fewer_layers(cfg, layers)]


def first_fix(cfg, layers: int, peak: Estimator, room: int) -> str | None:
    """The first change (in the order above) after which ``peak(config) <= room``; None when nothing
    fits, even all of them together."""
    for changes in _candidates(cfg, layers):
        for changed, words in changes:
            if peak(changed) <= room:
                return f"first fix: {words}"
    said: list[str] = []
    current = cfg
    for make in (*STEPS, lambda c: _fewer_layers(c, layers)):
        last = None
        for changed, words in make(current):
            last = (changed, words)
            if peak(changed) <= room:
                return "fits only with all of: " + "; ".join([*said, words])
        if last is not None:
            current, _ = last
            said.append(last[1])
    return None
