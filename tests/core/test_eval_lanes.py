"""Test-split scoring in several lane threads at once: the same numbers, from any thread, faster on several cores."""

from __future__ import annotations

import threading
import time

import pytest

from forgellm_tui.core.evaluate import split_loss
from forgellm_tui.core.evaluate.lanes import MAX_LANES, cpu_cores, lane_count, map_in_lanes
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


def test_a_worker_thread_scores_with_the_same_numbers_as_the_main_thread(scored):
    """The app scores in worker threads, the command line in its main thread. MLX streams belong to the
    thread that made them ("There is no Stream(cpu, 1) in current thread" when another thread uses one):
    the lanes are threads of their own, so both callers get the lanes and the same numbers."""
    model, rows = scored
    main = split_loss(model, rows, 128, 8, lane_count=2)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(split_loss(model, rows, 128, 8, lane_count=2)))
    worker.start()
    worker.join(120)
    assert not worker.is_alive() and result == [main]


@pytest.mark.skipif(cpu_cores() < 2, reason="one core: a single lane")
def test_the_cpu_gets_a_lane_per_core_and_blas_gets_its_threads_back():
    import mlx.core as mx

    assert mx.default_device().type == mx.cpu
    assert lane_count() == min(cpu_cores(), MAX_LANES) >= 2
    before = backend.openblas_details().get("threads")

    def where(item: int) -> tuple[int, str, int | None]:
        time.sleep(0.02)  # long enough for both lanes to take items
        return item, threading.current_thread().name, backend.openblas_details().get("threads")

    seen = list(map_in_lanes(where, range(12), 2))
    assert [item for item, _, _ in seen] == list(range(12))  # in the items' order
    assert len({name for _, name, _ in seen}) == 2 and threading.current_thread().name not in {n for _, n, _ in seen}
    assert backend.openblas_details().get("threads") == before
    if backend.active_blas() == "OpenBLAS":  # each lane's products run on its share of the cores
        assert {threads for _, _, threads in seen} == {max(1, cpu_cores() // 2)}


def test_an_error_in_a_lane_is_raised_at_its_item_and_the_lanes_stay_usable():
    def fail_at_five(item: int) -> int:
        if item == 5:
            raise MemoryError("[metal::malloc] out of memory")  # fault injection: the OOM a big batch raises
        return item * 10

    got: list[int] = []
    with pytest.raises(MemoryError, match="out of memory"):
        for value in map_in_lanes(fail_at_five, range(20), 2):
            got.append(value)
    assert got == [0, 10, 20, 30, 40]
    assert list(map_in_lanes(lambda item: item + 1, range(6), 2)) == [1, 2, 3, 4, 5, 6]


def test_closing_early_waits_for_the_lanes_and_starts_no_new_item():
    """A cancelled evaluation closes the iterator; after that no lane may touch the model (the next
    checkpoint's weights are loaded into it)."""
    started: list[int] = []
    running = threading.Event()

    def slow(item: int) -> int:
        started.append(item)
        running.set()
        time.sleep(0.05)
        running.clear()
        return item

    scored = map_in_lanes(slow, range(100), 2)
    assert next(scored) == 0
    scored.close()
    count = len(started)
    assert not running.is_set()
    time.sleep(0.2)
    assert len(started) == count < 100
