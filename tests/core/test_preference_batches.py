"""Batches of preference pairs: chosen rows then rejected rows, the answer's targets marked and nothing else,
an order fixed by (seed, epoch), and a resumed stream that continues exactly where it stopped."""

from __future__ import annotations

import numpy as np
import pytest

from forgellm_tui.core.errors import DataError
from forgellm_tui.core.preference import PairStream, pair_batches, tokenize_pairs
from preference_helpers import load_tokenizer, records


@pytest.fixture(scope="module")
def pairs(demo_model):
    return tokenize_pairs(records(30), load_tokenizer(demo_model), 256, "train.jsonl")


def test_a_batch_holds_chosen_then_rejected_with_only_answer_targets(pairs, demo_model):
    tok = load_tokenizer(demo_model)
    tokens, mask, ids = PairStream(pairs, 4, seed=7).next()
    assert tokens.shape[0] == 8 and mask.shape == (8, tokens.shape[1] - 1) and len(ids) == 4
    assert tokens.dtype == np.int32 and mask.dtype == np.float32
    for row in range(8):
        i, rejected = int(ids[row % 4]), row >= 4
        answer = pairs.rejected[i] if rejected else pairs.chosen[i]
        scored = tokens[row, 1:][mask[row] == 1]
        assert scored.tolist() == answer.tolist()  # the answer tokens, every one, in order
        length = len(pairs.prompts[i]) + len(answer)
        assert tokens[row, :length].tolist() == pairs.prompts[i].tolist() + answer.tolist()
        assert not tokens[row, length:].any() and not mask[row, length - 1:].any()  # padding: zeros, never scored
    assert tok.decode(tokens[4, 1:][mask[4] == 1].tolist()).endswith("<|im_end|>\n")


def test_the_order_is_a_function_of_seed_and_epoch(pairs):
    def ids_of(seed, count=14):
        stream = PairStream(pairs, 4, seed=seed)
        return [stream.next()[2].tolist() for _ in range(count)]

    first, again, other = ids_of(1), ids_of(1), ids_of(2)
    assert first == again and first != other
    per_epoch = len(pairs) // 4
    epoch0 = sorted(i for batch in first[:per_epoch] for i in batch)
    assert len(set(epoch0)) == per_epoch * 4  # within an epoch, no pair twice
    assert first[per_epoch:2 * per_epoch] != first[:per_epoch]  # the next epoch is shuffled anew


def test_a_resumed_stream_continues_identically(pairs):
    whole = PairStream(pairs, 3, seed=5)
    seen = [whole.next() for _ in range(13)]
    stopped = PairStream(pairs, 3, seed=5)
    for _ in range(8):
        stopped.next()
    pos = stopped.position()
    resumed = PairStream(pairs, pos["batch_size"], seed=pos["seed"], epoch=pos["epoch"], index=pos["index"])
    for expected in seen[8:]:
        got = resumed.next()
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert resumed.epochs_done == whole.epochs_done == pytest.approx(13 / (len(pairs) // 3))


def test_shards_split_each_global_batch_and_count_its_answer_tokens(pairs):
    whole = PairStream(pairs, 4, seed=3).next()
    parts = [PairStream(pairs, 4, seed=3, shard=(rank, 2)) for rank in (0, 1)]
    got = [p.next() for p in parts]
    assert sorted(np.concatenate([g[2] for g in got]).tolist()) == sorted(whole[2].tolist())
    assert parts[0].last_tokens == parts[1].last_tokens == int(whole[1].sum())


def test_validation_batches_cover_every_pair_once_and_are_fixed(pairs):
    batches = pair_batches(pairs, 4)
    ids = np.concatenate([b[2] for b in batches])
    assert sorted(ids.tolist()) == list(range(len(pairs)))
    assert len(batches) == 8 and len(batches[-1][2]) == 2  # 30 pairs: seven of four, then the two left
    again = pair_batches(pairs, 4)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again))
    limited = pair_batches(pairs, 4, 2)
    assert len(limited) == 2 and all(len(b[2]) == 4 for b in limited)


def test_a_batch_larger_than_the_pairs_is_a_clear_error(pairs):
    with pytest.raises(DataError, match="batch_size 64 is larger than the 30 training pairs"):
        PairStream(pairs, 64, seed=0)


def test_validation_shards_split_every_group():
    from forgellm_tui.core.preference.pairs import PairSet

    tiny = PairSet([np.array([1, 2], np.int32)] * 5, [np.array([3], np.int32)] * 5, [np.array([4], np.int32)] * 5, 8)
    whole = pair_batches(tiny, 2)
    ranks = [pair_batches(tiny, 2, shard=(rank, 2)) for rank in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(whole) == 3
    assert ranks[1][-1] is None  # the last group has one pair: rank 1 has nothing to score there
    for k, batch in enumerate(whole):
        got = [r[k][2].tolist() for r in ranks if r[k] is not None]
        assert sorted(sum(got, [])) == sorted(batch[2].tolist())


def test_widths_pad_little_and_come_in_few_shapes():
    from forgellm_tui.core.tokens import padded_width

    assert [padded_width(n, 2048) for n in (1, 8, 9, 39, 97, 127, 128, 129)] == [9, 9, 17, 41, 105, 129, 129, 145]
    widths = {padded_width(n, 4096) for n in range(1, 4097)}
    for n in range(1, 4097):
        width = padded_width(n, 4096)
        assert width >= n and (n < 64 or width - 1 - n <= n / 8)  # at most 12.5% padding past 64 tokens
    assert len(widths) <= 8 * 10  # about eight widths per doubling: few shapes for the compiled step
    assert padded_width(300, 256) == 300 and padded_width(250, 256) == 256  # never cut; capped when it fits
