"""Chat generation on the real demo model: adapters, prompt-cache reuse, stop, checkpoints, export."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from chat_fixtures import build_model_workspace, make_adapter, tree_bytes
from forgellm_tui.core.chat import chunk_channel
from forgellm_tui.core.chat.export import apply_record, export_json, export_markdown, load_json, record_of
from forgellm_tui.core.errors import DataError, ForgeError, ModelError
from forgellm_tui.core.chat import ChatSession, ModelCache, SamplingSettings
from forgellm_tui.core.models.discovery import discover, inspect_path
from forgellm_tui.settings import Settings

GREEDY = SamplingSettings(temperature=0.0, max_tokens=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory, demo_model):
    ws, hf = build_model_workspace(tmp_path_factory.mktemp("gen"), demo_model)
    settings = Settings.load(ws, env={"HF_HUB_CACHE": str(hf)})
    refs = {r.name: r for r in discover(settings)}
    return settings, refs, ModelCache(settings=settings)


def tokens_of(chunks):
    return [c.token for c in chunks if c.token is not None]


def reply(chat, prompt):
    chunks = list(chat.stream(prompt))
    assert chunks[-1].done and all(not c.done for c in chunks[:-1])
    return tokens_of(chunks), "".join(c.text for c in chunks), chunks[-1].stats


def test_greedy_with_adapter_equals_mlx_lm_generate(env):
    from mlx_lm import generate, load, stream_generate

    settings, refs, cache = env
    run = refs["cpt/run1"]
    cache.load(run)
    chat = ChatSession(cache, system_prompt="Be brief.", sampling=GREEDY)
    ours, text, stats = reply(chat, "What does os.path.join do?")
    model, tok = load(str(run.base_path), adapter_path=str(run.adapter_path))
    ids = tok.apply_chat_template([{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "What does os.path.join do?"}],
                                  add_generation_prompt=True)
    assert ours == [r.token for r in stream_generate(model, tok, ids, max_tokens=10)]
    assert text == generate(model, tok, ids, max_tokens=10)
    assert stats.prompt_tokens == len(ids) and stats.generated_tokens == len(ours) == 10
    base, btok = load(str(run.base_path))
    assert ours != [r.token for r in stream_generate(base, btok, ids, max_tokens=10)]  # the adapter is applied


@pytest.mark.parametrize("sampling", [GREEDY, SamplingSettings(temperature=1.0, top_p=0.95, seed=7, max_tokens=10,
                                                               repetition_penalty=1.3)])
def test_three_turns_with_prompt_cache_match_full_reprocessing(env, sampling):
    _, refs, cache = env
    cache.load(refs["cpt/run1"])
    cached = ChatSession(cache, system_prompt="You answer questions about Python.", sampling=sampling)
    full = ChatSession(cache, system_prompt="You answer questions about Python.", sampling=sampling,
                       reuse_prompt_cache=False)
    for i, prompt in enumerate(["What is pathlib?", "And os.path?", "Which one is newer?"]):
        a_tokens, a_text, a = reply(cached, prompt)
        b_tokens, b_text, b = reply(full, prompt)
        assert (a_tokens, a_text) == (b_tokens, b_text)
        assert a.prompt_tokens == b.prompt_tokens and b.processed_tokens == b.prompt_tokens
        if i:
            assert a.cached_tokens > 0 and a.processed_tokens < a.prompt_tokens / 2
        assert cached.context_used == a.prompt_tokens + a.generated_tokens
    assert [m.role for m in cached.history] == ["user", "assistant"] * 3
    assert [m.content for m in cached.history] == [m.content for m in full.history]


def test_regenerate_and_edit_reuse_the_cache(env):
    _, refs, cache = env
    cache.load(refs["forge-tiny"])
    chat = ChatSession(cache, sampling=GREEDY)
    reply(chat, "first")
    tokens, text, _ = reply(chat, "second")
    again = list(chat.regenerate())
    assert tokens_of(again) == tokens and again[-1].stats.processed_tokens == 1
    assert len(chat.history) == 4 and chat.history[-1].content.lstrip() == text.lstrip()
    edited = list(chat.edit_last_user("second, edited"))
    assert chat.history[-2].content == "second, edited" and len(chat.history) == 4
    assert edited[-1].stats.processed_tokens < edited[-1].stats.prompt_tokens
    fresh = ChatSession(cache, sampling=GREEDY, reuse_prompt_cache=False)
    fresh.history = list(chat.history[:2])
    assert reply(fresh, "second, edited")[0] == tokens_of(edited)


def test_stop_mid_stream_from_another_thread(env):
    _, refs, cache = env
    cache.load(refs["forge-tiny"])
    chat = ChatSession(cache, sampling=SamplingSettings(temperature=0.0, max_tokens=1500))
    seen, result = threading.Event(), {}

    def worker():  # like a Textual thread worker consuming the stream
        chunks = []
        for c in chat.stream("Tell me everything about the os module."):
            chunks.append(c)
            if len(tokens_of(chunks)) == 3:
                seen.set()
        result["chunks"] = chunks

    t = threading.Thread(target=worker)
    t.start()
    assert seen.wait(60)
    chat.stop()
    t.join(60)
    stats = result["chunks"][-1].stats
    assert stats.finish_reason == "stopped" and 3 <= stats.generated_tokens < 200
    shown = "".join(c.text for c in result["chunks"])
    assert chat.history[-1].content.lstrip() == shown.lstrip()  # the partial reply is kept
    assert chat.context_used == stats.prompt_tokens + stats.generated_tokens
    follow = ChatSession(cache, sampling=GREEDY, reuse_prompt_cache=False)
    follow.history = list(chat.history)
    chat.sampling = GREEDY
    tokens, _, next_stats = reply(chat, "Shorter please.")
    assert next_stats.cached_tokens > 0 and tokens == reply(follow, "Shorter please.")[0]


def test_chunk_channel_hands_the_first_chunk_at_once_and_the_rest_in_batches():
    channel = chunk_channel.ChunkChannel(interval=600.0)
    batches = channel.batches()
    channel.put("first")
    assert next(batches) == ["first"]  # the reader waiting for a chunk gets it without the interval
    channel.put("progress")
    channel.put("first token", now=True)
    assert next(batches) == ["progress", "first token"]  # a chunk put with now=True does not wait either
    for i in range(5):
        channel.put(i)
    channel.close()
    assert next(batches) == [0, 1, 2, 3, 4]  # one batch; the end does not wait out the interval
    assert list(batches) == []


def test_tokens_reach_the_reader_in_batches(env, monkeypatch):
    """The MLX thread does not wake the reader (and hand it the GIL) for every token."""
    seen: list[list] = []
    batches = chunk_channel.ChunkChannel.batches

    def spy(self):
        for batch in batches(self):
            seen.append(batch)
            yield batch

    monkeypatch.setattr(chunk_channel.ChunkChannel, "batches", spy)
    _, refs, cache = env
    cache.load(refs["forge-tiny"])
    sampling = SamplingSettings(temperature=0.0, max_tokens=200)
    batched = ChatSession(cache, sampling=sampling, handoff_s=0.5)
    tokens, text, stats = reply(batched, "Tell me everything about the os module.")
    assert stats.generated_tokens == len(tokens) > 50
    with_tokens = [[c for c in batch if c.token is not None] for batch in seen]
    assert len(next(b for b in with_tokens if b)) == 1  # the first token is handed over alone, at once
    assert len(seen) < len(tokens) / 4  # then many tokens per hand-over
    each = ChatSession(cache, sampling=sampling, handoff_s=0)  # every chunk as it comes: the same reply
    assert reply(each, "Tell me everything about the os module.")[:2] == (tokens, text)


def test_stop_during_prompt_processing(env):
    _, refs, cache = env
    cache.load(refs["forge-tiny"])
    chat = ChatSession(cache, sampling=GREEDY, prefill_step_size=16)
    reply(chat, "hello")
    before = list(chat.history)
    long_prompt = " ".join(f"item{i} os.path.join(a, b) returns the joined path." for i in range(60))
    chunks = []
    for c in chat.stream(long_prompt):
        chunks.append(c)
        if c.progress is not None and c.progress[0] >= 64:  # a few prefill chunks are done
            chat.stop()
    stats = chunks[-1].stats
    assert stats.finish_reason == "stopped" and stats.generated_tokens == 0
    assert 64 <= stats.processed_tokens < stats.prompt_tokens - stats.cached_tokens
    assert chat.history == before  # nothing recorded for a turn stopped before its first token
    fresh = ChatSession(cache, sampling=GREEDY, reuse_prompt_cache=False)
    fresh.history = list(before)
    tokens, _, again = reply(chat, long_prompt)
    assert again.cached_tokens > 0 and tokens == reply(fresh, long_prompt)[0]


def test_loading_checkpoints_never_changes_the_run_folder(env):
    settings, refs, cache = env
    run_dir = settings.cpt_dir / "run1"
    before = tree_bytes(run_dir)
    outputs = {}
    for name in ("cpt/run1 @ 20", "cpt/run1 @ 30", "cpt/run1 @ best", "cpt/run1 @ 10", "cpt/run1"):
        loaded = cache.load(refs[name])
        assert loaded.ref.name == name
        outputs[name] = reply(ChatSession(cache, sampling=GREEDY), "What is sys.argv?")[0]
    assert tree_bytes(run_dir) == before
    assert outputs["cpt/run1 @ best"] == outputs["cpt/run1 @ 10"]  # best/ is a copy of checkpoint 10
    assert len({tuple(outputs[n]) for n in ("cpt/run1 @ 10", "cpt/run1 @ 20", "cpt/run1 @ 30", "cpt/run1")}) == 4


def test_switching_models_drops_the_old_prompt_cache(env):
    _, refs, cache = env
    first = cache.load(refs["forge-tiny"])
    assert cache.load(refs["forge-tiny"]) is first  # loaded once
    chat = ChatSession(cache, sampling=GREEDY)
    reply(chat, "hi")
    assert chat.context_used > 0
    cache.load(refs["org/tiny"])
    assert chat.context_used == 0 and cache.current.ref.kind == "hf-cache"
    _, _, stats = reply(chat, "hi again")
    assert stats.cached_tokens == 0 and stats.processed_tokens == stats.prompt_tokens


def test_switching_models_stops_a_running_reply_and_unload_frees_memory(env):
    import mlx.core as mx

    _, refs, cache = env
    cache.load(refs["forge-tiny"])
    chat = ChatSession(cache, sampling=SamplingSettings(temperature=0.0, max_tokens=1500))
    started, out = threading.Event(), {}

    def worker():
        chunks = []
        for c in chat.stream("Go on and on."):
            chunks.append(c)
            started.set()
        out["stats"] = chunks[-1].stats

    t = threading.Thread(target=worker)
    t.start()
    assert started.wait(60)
    cache.load(refs["cpt/run1"])  # does not wait for the 1500-token reply: it is stopped
    t.join(60)
    assert out["stats"].finish_reason == "stopped" and out["stats"].generated_tokens < 1500
    active = cache.thread.call(mx.get_active_memory)
    cache.unload()
    assert cache.current is None and chat.context_used == 0
    assert cache.thread.call(mx.get_active_memory) < active - 10_000_000  # the 17 MB of weights are gone


def _bad_adapter(tmp_path, settings, name, mutate):
    folder = tmp_path / name
    shutil.copytree(settings.cpt_dir / "run1", folder, ignore=shutil.ignore_patterns("checkpoints", "best", "0*"))
    (folder / "config.yaml").write_text(f"model: {settings.base_models_dir / 'forge-tiny'}\n")
    mutate(folder)
    return inspect_path(folder, settings)


def test_bad_models_and_adapters_are_refused_and_the_previous_model_stays(env, tmp_path, demo_model):
    import mlx.core as mx

    settings, refs, cache = env
    previous = cache.load(refs["forge-tiny"])

    def wrong_rank(f):
        cfg = json.loads((f / "adapter_config.json").read_text())
        cfg["lora_parameters"]["rank"] = 8
        (f / "adapter_config.json").write_text(json.dumps(cfg))

    def wrong_shape(f):
        weights = dict(mx.load(str(f / "adapters.safetensors")))
        key = next(k for k in weights if k.endswith("q_proj.lora_a"))
        weights[key] = mx.zeros((128, 4))
        mx.save_safetensors(str(f / "adapters.safetensors"), weights)

    def truncated(f):
        data = (f / "adapters.safetensors").read_bytes()
        (f / "adapters.safetensors").write_bytes(data[: len(data) // 2])

    for name, mutate, words in [("rank", wrong_rank, "rank 4"), ("shape", wrong_shape, "input size 128"),
                                ("trunc", truncated, "truncated")]:
        with pytest.raises(ModelError, match=words) as err:
            cache.load(_bad_adapter(tmp_path, settings, name, mutate))
        assert "\n" not in str(err.value) and cache.current is previous
    alien = tmp_path / "alien"
    alien.mkdir()
    for f in demo_model.iterdir():
        (alien / f.name).symlink_to(f)
    (alien / "config.json").unlink()
    config = json.loads((demo_model / "config.json").read_text())
    (alien / "config.json").write_text(json.dumps(dict(config, model_type="no_such_arch")))
    with pytest.raises(ModelError, match="cannot run this architecture"):
        cache.load(alien)
    assert cache.current.ref.name == "forge-tiny"  # loaded again after the failed switch
    assert reply(ChatSession(cache, sampling=GREEDY), "still here?")[2].generated_tokens == 10


def test_prompt_problems_are_clear_errors(env):
    _, refs, cache = env
    with pytest.raises(ModelError, match="no model is loaded"):
        ChatSession(ModelCache(thread=cache.thread)).stream("hi")
    cache.load(refs["forge-tiny"])
    chat = ChatSession(cache, sampling=GREEDY)
    with pytest.raises(ForgeError, match="prompt is empty"):
        chat.stream("   ")
    with pytest.raises(ForgeError, match="nothing|no message"):
        chat.regenerate()
    chat.system_prompt = "word " * 3000
    with pytest.raises(ForgeError, match="does not fit the model's context"):
        list(chat.stream("hi"))
    assert chat.history == [] and not chat.generating


def test_export_and_import_round_trip(env, tmp_path):
    _, refs, cache = env
    cache.load(refs["cpt/run1 @ 10"])
    chat = ChatSession(cache, system_prompt="Be brief.", sampling=SamplingSettings(temperature=0.0, max_tokens=6,
                                                                                   top_k=5, seed=3))
    reply(chat, "first")
    reply(chat, "second")
    record = record_of(chat)
    export_json(record, tmp_path / "chat.json")
    md = export_markdown(record, tmp_path / "chat.md").read_text()
    assert "## System\n\nBe brief." in md and md.count("## User") == 2 and "cpt/run1 @ 10" in md
    assert "checkpoints/0000010" in md and "tok/s" in md
    back = load_json(tmp_path / "chat.json")
    assert [(m.role, m.content, m.stats) for m in back.messages] == [(m.role, m.content, m.stats)
                                                                     for m in chat.history]
    assert back.system_prompt == "Be brief." and back.sampling == chat.sampling
    assert back.model["adapter_path"].endswith("0000010") and back.prompt_format == "instruct"
    other = ChatSession(cache)
    apply_record(other, back)
    assert other.history == chat.history and other.sampling.top_k == 5
    assert reply(other, "third")[0] == reply(chat, "third")[0]


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ('{"format": "something-else", "messages": []}', "format 'something-else'"),
    ('{"title": "x"}', "no `messages` list"),
    ('{"messages": [{"role": "robot", "content": "x"}]}', "message 0"),
])
def test_a_chat_file_that_is_not_ours_is_refused(tmp_path, content, words):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(DataError, match=words) as err:
        load_json(path)
    assert str(path) in str(err.value)


def test_plain_message_lists_can_be_loaded(tmp_path):
    path = tmp_path / "msgs.json"
    path.write_text(json.dumps([{"role": "system", "content": "S"}, {"role": "user", "content": "u"},
                                {"role": "assistant", "content": "a"}]))
    record = load_json(path)
    assert record.system_prompt == "S" and [m.content for m in record.messages] == ["u", "a"]


def test_make_adapter_helper_changes_weights(tmp_path, demo_model):
    out = make_adapter(demo_model, tmp_path / "ad", seed=5)
    assert (out / "adapters.safetensors").stat().st_size > 1000 and (out / "adapter_config.json").is_file()
