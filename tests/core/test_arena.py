"""Arena core: votes appended to arena.jsonl and read back, the tally per pair, export, and a ModelCache
that keeps both arena models loaded (real demo model and real LoRA adapters)."""

from __future__ import annotations

import json

import pytest

from chat_fixtures import build_model_workspace
from forgellm_tui.core.arena import (ArenaRecord, append_vote, arena_file, export_rounds, load_votes, tally,
                                     tally_of)
from forgellm_tui.core.chat import ChatSession, ModelCache, SamplingSettings, model_info
from forgellm_tui.core.errors import DataError, ForgeError
from forgellm_tui.core.models.discovery import discover
from forgellm_tui.settings import Settings

GREEDY = SamplingSettings(temperature=0.0, max_tokens=8)
A = {"name": "forge-tiny", "kind": "base", "path": "/m/a", "base_path": "/m/a", "adapter_path": None}
B = {"name": "cpt/run1", "kind": "run", "path": "/r/b", "base_path": "/m/a", "adapter_path": "/r/b"}


def record(left=A, right=B, prompt="Hi?") -> ArenaRecord:
    return ArenaRecord(left=left, right=right, prompt=prompt, replies={"left": "one", "right": "two"},
                       system_prompt="Be brief.", sampling=GREEDY)


def test_a_vote_is_appended_and_read_back(tmp_path):
    assert load_votes(tmp_path) == []  # no file yet: no votes
    append_vote(tmp_path, record(), "left")
    append_vote(tmp_path, record(prompt="Why?"), "tie")
    lines = arena_file(tmp_path).read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["left"]["name"] == "forge-tiny" and first["right"]["adapter_path"] == "/r/b"
    assert first["prompt"] == "Hi?" and first["replies"] == {"left": "one", "right": "two"}
    assert first["system_prompt"] == "Be brief." and first["settings"]["max_tokens"] == 8
    assert first["vote"] == "left" and first["time"].startswith("20")
    votes = load_votes(tmp_path)
    assert [v.vote for v in votes] == ["left", "tie"] and votes[1].prompt == "Why?"
    assert votes[0].sampling == GREEDY


def test_bad_votes_are_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ForgeError, match="not one of left, right, tie"):
        append_vote(tmp_path, record(), "both")
    half = record()
    half.replies["right"] = ""
    with pytest.raises(ForgeError, match="both models must reply"):
        append_vote(tmp_path, half, "left")
    assert not arena_file(tmp_path).exists()


def test_a_damaged_line_is_named_and_a_half_written_last_line_is_skipped(tmp_path):
    append_vote(tmp_path, record(), "right")
    with open(arena_file(tmp_path), "a") as fh:
        fh.write('{"left": {}, "right"')  # a writer stopped mid-line
    assert [v.vote for v in load_votes(tmp_path)] == ["right"]
    append_vote(tmp_path, record(), "left")  # starts on a fresh line: the partial line is now line 2
    with pytest.raises(DataError) as err:
        load_votes(tmp_path)
    assert "line 2 is not an arena vote" in str(err.value) and "\n" not in str(err.value)
    arena_file(tmp_path).write_text(json.dumps(dict(record().to_dict(), vote="maybe")) + "\n")
    with pytest.raises(DataError, match=r"line 1 .*'maybe'"):
        load_votes(tmp_path)


def test_the_tally_counts_a_pair_whichever_side_each_model_was_on(tmp_path):
    for left, right, vote in [(A, B, "left"), (B, A, "left"), (B, A, "right"), (A, B, "tie"), (A, A, "right")]:
        append_vote(tmp_path, record(left, right), vote)
    pairs = tally(load_votes(tmp_path))
    assert len(pairs) == 2
    ab, aa = pairs
    # A won when it was on the left (1) and on the right (1); B won once from the left
    assert (ab.first["name"], ab.first_wins, ab.second_wins, ab.ties) == ("cpt/run1", 1, 2, 1)
    assert ab.line() == "cpt/run1 1 · forge-tiny 2 · tie 1" and ab.votes == 4
    assert aa.same_target and aa.line() == "forge-tiny (left) 0 · forge-tiny (right) 1 · tie 0"
    assert tally_of(load_votes(tmp_path), B, A) == ab and tally_of([], A, B) is None


def test_export_writes_markdown_and_json_with_targets_settings_and_vote(tmp_path):
    done = append_vote(tmp_path, record(), "left")
    open_round = record(prompt="Unvoted?")
    md, js = export_rounds([done, open_round], tmp_path / "chats" / "arena-x")
    text = md.read_text()
    for words in ("# Arena", "forge-tiny vs cpt/run1", "- Left: `/m/a` (base)", "adapter `/r/b`", "temperature 0.0",
                  "- Vote: left", "- Vote: none yet", "### Prompt", "Unvoted?", "### Right: cpt/run1", "Be brief."):
        assert words in text, words
    data = json.loads(js.read_text())
    assert data["format"] == "forgellm-tui-arena" and [r["vote"] for r in data["rounds"]] == ["left", None]
    assert ArenaRecord.from_dict(data["rounds"][0]).replies == {"left": "one", "right": "two"}


@pytest.fixture(scope="module")
def env(tmp_path_factory, demo_model):
    ws, hf = build_model_workspace(tmp_path_factory.mktemp("arena"), demo_model)
    settings = Settings.load(ws, env={"HF_HUB_CACHE": str(hf)})
    return settings, {r.name: r for r in discover(settings)}


def reply(chat: ChatSession, prompt: str) -> list[int]:
    return [c.token for c in chat.stream(prompt) if c.token is not None]


@pytest.mark.usefixtures("mlx_exit")
def test_a_cache_of_two_keeps_both_models_and_unloads_the_least_recent(env):
    import mlx.core as mx

    _, refs = env
    cache = ModelCache(capacity=2)
    base = cache.load(refs["forge-tiny"])
    run = cache.load(refs["cpt/run1"])
    assert [m.ref.name for m in cache.models] == ["forge-tiny", "cpt/run1"] and cache.current is run
    left, right = ChatSession(cache, sampling=GREEDY), ChatSession(cache, sampling=GREEDY)
    cache.load(refs["forge-tiny"])
    base_tokens = reply(left, "hello")
    assert cache.load(refs["cpt/run1"]) is run  # in the cache: made current, not loaded again
    run_tokens = reply(right, "hello")
    assert cache.load(refs["forge-tiny"]) is base and base_tokens != run_tokens  # the adapter is applied
    again = [c.token for c in left.regenerate() if c.token is not None]
    assert again == base_tokens and left.last_stats.cached_tokens > 0  # its prompt cache was kept
    del base, run  # only the cache holds the models now
    active = cache.thread.call(mx.get_active_memory)
    cache.load(refs["cpt/run1 @ 10"])  # a third model: the least recently used one (the run) goes
    assert [m.ref.name for m in cache.models] == ["forge-tiny", "cpt/run1 @ 10"]
    cache.unload()
    assert cache.models == [] and cache.current is None
    assert cache.thread.call(mx.get_active_memory) < active - 10_000_000  # both copies of the weights are freed


@pytest.mark.usefixtures("mlx_exit")
def test_a_failed_load_keeps_both_models(env, tmp_path):
    _, refs = env
    cache = ModelCache(capacity=2)
    cache.load(refs["forge-tiny"])
    run = cache.load(refs["cpt/run1"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ForgeError):
        cache.load(broken)
    assert cache.current is run and len(cache.models) == 2
    cache.unload()


def test_model_info_describes_a_target(env):
    _, refs = env
    info = model_info(refs["cpt/run1"])
    assert info["name"] == "cpt/run1" and info["adapter_path"] and info["base_path"].endswith("forge-tiny")
