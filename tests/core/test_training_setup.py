"""Learning-rate schedules, optimizers and batching: the values a run will actually use."""

from __future__ import annotations

import numpy as np
import pytest

from forgellm_tui.core.config.model import from_dict
from forgellm_tui.core.training.data import BatchStream, TokenRows, epoch_order, make_batch, pack, validation_batches
from forgellm_tui.core.training.setup import build_optimizer, build_schedule

BASE = {"model": "m", "data": "d", "learning_rate": 1e-3, "max_iterations": 100}


def _lr(schedule, step):
    import mlx.core as mx

    return float(schedule(mx.array(step))) if callable(schedule) else float(schedule)


@pytest.mark.parametrize("name, end", [("cosine", 1e-4), ("linear", 1e-4), ("constant", 1e-3)])
def test_schedules_warm_up_then_decay(name, end):
    cfg = from_dict({**BASE, "lr_schedule": name, "warmup_steps": 10, "warmup_init": 0.0, "lr_decay_factor": 0.1})
    schedule = build_schedule(cfg, cfg.max_iterations)
    assert _lr(schedule, 0) == pytest.approx(0.0)
    assert _lr(schedule, 5) == pytest.approx(5e-4)
    assert _lr(schedule, 10) == pytest.approx(1e-3)
    assert _lr(schedule, 100) == pytest.approx(end, rel=1e-4)
    if name != "constant":
        assert _lr(schedule, 11) < 1e-3 and _lr(schedule, 50) < _lr(schedule, 20)


def test_constant_without_warmup_and_mlx_arguments():
    assert build_schedule(from_dict({**BASE, "lr_schedule": "constant"}), 100) == 1e-3
    cfg = from_dict({**BASE, "learning_rate": 2e-4,
                     "lr_schedule": {"name": "cosine_decay", "arguments": [2e-4, 50, 1e-5]}})
    schedule = build_schedule(cfg, 100)
    assert _lr(schedule, 0) == pytest.approx(2e-4) and _lr(schedule, 50) == pytest.approx(1e-5)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adafactor", "muon"])
def test_every_optimizer_updates_parameters(name):
    import mlx.core as mx
    import mlx.nn as nn

    extra = {"weight_decay": 0.05} if name != "adam" else {}
    cfg = from_dict({**BASE, "optimizer": name, **extra, "lr_schedule": "constant"})
    opt = build_optimizer(cfg, 100)
    layer = nn.Linear(8, 8)
    before = np.array(layer.weight)
    grads = {"weight": mx.ones((8, 8)), "bias": mx.ones((8,))}
    opt.update(layer, grads)
    mx.eval(layer.parameters())
    assert not np.allclose(before, np.array(layer.weight))
    if name == "adamw":
        assert opt.weight_decay == 0.05


def _rows(lengths):
    flat = np.arange(sum(lengths), dtype=np.int32) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return TokenRows(flat, starts, np.array(lengths, np.int64), np.zeros(len(lengths), np.int64))


def test_data_order_is_a_function_of_seed_and_epoch():
    lengths = np.random.RandomState(1).randint(5, 300, 103)
    a = epoch_order(lengths, 4, seed=3, epoch=2)
    assert [x.tolist() for x in a] == [x.tolist() for x in epoch_order(lengths, 4, 3, 2)]
    assert [x.tolist() for x in a] != [x.tolist() for x in epoch_order(lengths, 4, 3, 1)]
    assert len(a) == 103 // 4 and len({i for b in a for i in b}) == 100
    # length-sorted inside buckets: far less padding than random groups of 4 (mlx-lm on {"text"} rows)
    def waste(batches):
        return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in batches) / \
            sum(int(lengths[b].max() * len(b)) for b in batches)

    shuffled = np.random.RandomState(0).permutation(100)
    assert waste(a) < 0.1 < 0.3 < waste([shuffled[i:i + 4] for i in range(0, 100, 4)])


def test_stream_resumes_at_the_same_batch():
    data = _rows(list(range(3, 43)))
    first = BatchStream(data, 4, 64, seed=5)
    seen = [first.next()[0].tolist() for _ in range(13)]       # crosses an epoch (10 batches per epoch)
    pos = first.position()
    again = BatchStream(data, 4, 64, seed=5, epoch=pos["epoch"], index=pos["index"])
    assert again.next()[0].tolist() == first.next()[0].tolist()
    assert pos["epoch"] == 1 and seen


def test_batches_truncate_and_pack():
    data = _rows([5, 40, 3])
    batch, targets = make_batch(data, np.array([0, 1, 2]), 16)
    # rows of 5, 16 (cut from 40) and 3 tokens: every token after the first is a target, no pad is
    assert batch.shape == (3, 16) and targets.sum(axis=1).tolist() == [4, 15, 2]
    assert batch[0, :5].tolist() == [1, 2, 3, 4, 5] and batch[0, 5:].tolist() == [0] * 11
    packed = pack(data, 16)
    assert len(packed) == 48 // 16 and packed.lengths.tolist() == [16, 16, 16]
    assert packed.flat.tolist() == list(range(1, 49))
    assert len(validation_batches(data, 2, 16, -1)) == 1 and validation_batches(data, 2, 16, 0) == []
