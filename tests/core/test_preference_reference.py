"""The reference model's answer log-probs: computed in batches (any batch size gives the same table), with
progress and cancel; kept in the run folder and used again only when it matches what it was computed from."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from forgellm_tui.core.preference import (compute_reference, load_reference, reference_identity, save_reference,
                                          sequence_logps, tokenize_pairs)
from preference_helpers import load_model, load_tokenizer, records

mx = pytest.importorskip("mlx.core")


@pytest.fixture(scope="module")
def pairs(demo_model):
    return tokenize_pairs(records(9), load_tokenizer(demo_model), 256, "train.jsonl")


@pytest.fixture(scope="module")
def model(demo_model):
    return load_model(demo_model)


def test_the_table_holds_each_pairs_chosen_and_rejected_log_probs(pairs, model):
    ticks = []
    table = compute_reference(model, pairs, 4, tick=lambda done, total: ticks.append((done, total)))
    assert table.shape == (9, 2) and table.dtype == np.float32
    for i in (0, 4, 8):
        for side in (0, 1):
            seq, start = pairs.sequence(i, rejected=bool(side))
            mask = np.zeros((1, len(seq) - 1), np.float32)
            mask[0, start - 1:] = 1
            alone, _ = sequence_logps(model, mx.array(seq[None]), mx.array(mask))
            assert table[i, side] == pytest.approx(float(alone[0]), rel=1e-4, abs=1e-3)
    assert ticks == [(4, 9), (8, 9), (9, 9)]
    np.testing.assert_allclose(compute_reference(model, pairs, 1), table, rtol=1e-4, atol=1e-3)


def test_it_runs_in_eval_mode_and_gives_the_model_back_as_it_was(pairs, model):
    model.train()
    try:
        compute_reference(model, pairs, 9)
        assert model.training
    finally:
        model.eval()


def test_cancel_stops_between_batches_with_no_table(pairs, model):
    done = threading.Event()
    done.set()
    assert compute_reference(model, pairs, 4, cancel=done) is None
    ticks = []
    table = compute_reference(model, pairs, 4, cancel=lambda: bool(ticks), tick=lambda d, t: ticks.append(d))
    assert table is None and ticks == [4]  # one batch, then it stopped


def test_a_saved_table_loads_back_only_for_its_identity(tmp_path, pairs, model):
    data = tmp_path / "train.jsonl"
    data.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n')
    identity = reference_identity(data, "models/base/forge-tiny", 256)
    table = compute_reference(model, pairs, 4)
    run = tmp_path / "run"
    save_reference(run, "train", table, identity)
    assert sorted(p.name for p in (run / "reference").iterdir()) == ["train.json", "train.npy"]
    np.testing.assert_array_equal(load_reference(run, "train", identity), table)
    assert load_reference(run, "valid", identity) is None
    assert load_reference(run, "train", dict(identity, max_seq_length=512)) is None
    assert load_reference(run, "train", reference_identity(data, "models/other", 256)) is None
    data.write_text('{"prompt": "a", "chosen": "b", "rejected": "d"}\n')  # the data changed
    assert load_reference(run, "train", reference_identity(data, "models/base/forge-tiny", 256)) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "bad_json"])
def test_a_damaged_table_means_compute_again(tmp_path, damage):
    identity = {"data_sha256": "ab12", "model": "m", "max_seq_length": 64}
    table = np.arange(10, dtype=np.float32).reshape(5, 2)
    save_reference(tmp_path, "valid", table, identity)
    npy, meta = tmp_path / "reference" / "valid.npy", tmp_path / "reference" / "valid.json"
    raw = npy.read_bytes()
    if damage == "truncate":
        npy.write_bytes(raw[:-8])
    elif damage == "flip":
        npy.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    elif damage == "delete":
        npy.unlink()
    else:
        meta.write_text("{not json")
    assert load_reference(tmp_path, "valid", identity) is None
    save_reference(tmp_path, "valid", table, identity)  # computing again replaces it
    np.testing.assert_array_equal(load_reference(tmp_path, "valid", identity), table)
