"""Test-split scoring on several CPU streams at once ("lanes"): the same numbers, faster on several cores."""

from __future__ import annotations

import pytest

from forgellm_tui.core.evaluate import split_loss
from forgellm_tui.core.evaluate.lanes import MAX_LANES, cpu_cores, lane_count, lanes
from forgellm_tui.core.runtime import backend

ROWS = 37  # four full batches of 8 and a short last one


@pytest.fixture(scope="module")
def scored(demo_dir):
    """The demo base model and the first ROWS rows of the demo test split, tokenized as ``eval`` does."""
    from forgellm_tui.core.config import from_dict
    from forgellm_tui.core.tokens import tokenize
    from forgellm_tui.core.training import load_model, load_tokenizer, read_split

    cfg = from_dict({"training_type": "cpt", "max_seq_length": 128}, require=())
    model_path = demo_dir / "models" / "base" / "forge-tiny"
    lines, fmt = read_split(demo_dir / "data" / "cpt-demo" / "test.jsonl", cfg)
    assert len(lines) >= ROWS
    rows = tokenize(lines[:ROWS], fmt, load_tokenizer(model_path, cfg), cfg)
    model, _ = load_model(model_path, cfg)
    model.eval()
    return model, rows


def test_batches_scored_side_by_side_give_exactly_the_one_lane_numbers(scored):
    model, rows = scored
    ticks: list[int] = []
    one = split_loss(model, rows, 128, 8, lane_count=1)
    for count in (2, 3):
        assert split_loss(model, rows, 128, 8, tick=ticks.append, lane_count=count) == one
        assert ticks == [8, 16, 24, 32, ROWS]  # progress still counts the batches in order
        ticks.clear()
    assert split_loss(model, rows, 128, 8) == one  # the default (one lane per core here)
    assert one[1] == int(rows.lengths.sum()) - ROWS  # every row scored: each token but the first


@pytest.mark.skipif(cpu_cores() < 2, reason="one core: a single lane")
def test_the_cpu_gets_a_lane_per_core_and_blas_gets_its_threads_back():
    import mlx.core as mx

    assert mx.default_device().type == mx.cpu
    assert lane_count() == min(cpu_cores(), MAX_LANES) >= 2
    before = backend.openblas_details().get("threads")
    with lanes(2) as streams:
        assert len({str(s) for s in streams}) == 2
        inside = backend.openblas_details().get("threads")
    assert backend.openblas_details().get("threads") == before
    if backend.active_blas() == "OpenBLAS":  # each lane's products run on its share of the cores
        assert inside == max(1, cpu_cores() // 2)


def test_a_worker_thread_scores_after_the_main_thread_used_the_lanes(scored):
    """The app scores in worker threads. MLX streams belong to the thread that made them, so a worker
    must not reuse the main thread's lanes ("There is no Stream(cpu, 1) in current thread"): it scores on
    its own default stream, with the same numbers, and returns."""
    import threading

    model, rows = scored
    main = split_loss(model, rows, 128, 8, lane_count=2)   # makes the main thread's lanes
    result: list = []
    worker = threading.Thread(target=lambda: result.append(split_loss(model, rows, 128, 8, lane_count=2)))
    worker.start()
    worker.join(120)
    assert not worker.is_alive() and result == [main]
