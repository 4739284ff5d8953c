"""A conversation with the loaded model: streaming replies that reuse the KV prompt cache.

Each turn renders the whole conversation, finds the longest prefix whose keys/values are already
in the cache, trims the cache to it and feeds only the rest (mlx-lm's cache is trimmable). Regenerate and edit
work the same way: the rendered prompt shares a prefix with the cache, which is trimmed back.

Threads: ``stream``/``send``/``regenerate``/``edit_last_user`` may be iterated from any thread
(e.g. a Textual thread worker); the MLX work runs on the ModelCache's MLX thread and chunks come
back through a :class:`~.chunk_channel.ChunkChannel`: the first one at once, then in batches
(``handoff_s``), so decoding does not pay a thread switch per token. ``stop()`` is safe from any
thread: generation ends within one token, and prompt processing ends after the current
``prefill_step_size`` chunk.

``history`` only changes when a turn ends: a reply stopped mid-way is kept as it is; a turn
stopped before its first token, or one that failed, leaves ``history`` as it was. A UI should
re-render from ``history`` after the last chunk (the stored reply is the full decode of the
generated ids, which can differ from the streamed text by a leading space).

Prompt ids are always the tokenization of the whole rendered conversation, so a reply is a function
of the visible history (an exported chat continues exactly). Where a reply does not re-tokenize to
the ids that were generated, the cache is reused up to that point only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from forgellm_tui.core.chat.types import ChatMessage, Chunk, ReplyStats, SamplingSettings
from forgellm_tui.core.chat.chunk_channel import ChunkChannel
from forgellm_tui.core.errors import ForgeError, ModelError
from forgellm_tui.core.chat.model_cache import LoadedModel, ModelCache
from forgellm_tui.core.chat.prompt_format import THINK_START, PromptFormatter, tokenizer_render

HANDOFF_S = 0.05
"""Chunks reach the reader at most this often once a reply streams (a UI redraws ~15 times a second)."""


class _Stopped(Exception):
    """Raised from the prompt-progress callback to abort prompt processing."""


class ChatSession:
    """History, system prompt, sampling and the prompt cache of one chat."""

    def __init__(self, cache: ModelCache, system_prompt: str = "", sampling: SamplingSettings | None = None,
                 instruct: bool | None = None, reuse_prompt_cache: bool = True, prefill_step_size: int = 512,
                 handoff_s: float = HANDOFF_S):
        self.cache = cache
        self.system_prompt = system_prompt
        self.sampling = (sampling or SamplingSettings()).validate()
        self.instruct_override = instruct
        self.reuse_prompt_cache = reuse_prompt_cache
        self.prefill_step_size = prefill_step_size
        self.handoff_s = handoff_s
        """Batching of the hand-over from the MLX thread (0: every chunk as it comes)."""
        self.history: list[ChatMessage] = []
        self.last_stats: ReplyStats | None = None
        self._kv: list | None = None          # mlx-lm prompt cache (MLX thread only)
        self._kv_ids: list[int] = []          # token ids whose keys/values are in _kv
        self._kv_key: tuple | None = None     # LoadedModel.key the cache belongs to
        self._lock = threading.Lock()
        self._busy = False
        self._stop_event = threading.Event()
        self._formatter: tuple[tuple, PromptFormatter] | None = None
        cache.on_unload(self._drop_kv)
        cache.on_switch(self.stop)

    # ----------------------------------------------------------------- state

    @property
    def loaded(self) -> LoadedModel:
        current = self.cache.current
        if current is None:
            raise ModelError("no model is loaded", hint="pick a model first")
        return current

    @property
    def is_instruct(self) -> bool:
        if self.instruct_override is not None:
            return self.instruct_override
        loaded = self.cache.current
        if loaded is None:
            return False
        return loaded.ref.is_instruct if loaded.ref.is_instruct is not None else loaded.has_chat_template

    @property
    def generating(self) -> bool:
        return self._busy

    @property
    def context_length(self) -> int | None:
        loaded = self.cache.current
        return loaded.context_length if loaded else None

    @property
    def context_used(self) -> int:
        """Tokens of the conversation held in the prompt cache (0 before the first reply)."""
        return len(self._kv_ids)

    def formatter(self) -> PromptFormatter:
        """The prompt formatter for the loaded model and the base/instruct choice (kept between turns)."""
        loaded, instruct = self.loaded, self.is_instruct
        if self._formatter is None or self._formatter[0] != (loaded.key, instruct):
            self._formatter = ((loaded.key, instruct), PromptFormatter(tokenizer_render(loaded.tokenizer), instruct))
        return self._formatter[1]

    def prompt_text(self, prompt: str, history: Sequence[ChatMessage] | None = None) -> str:
        """The exact text the model would see for ``prompt`` now (for a format preview)."""
        history = self.history if history is None else history
        return self.formatter().text(self.system_prompt, [m.as_template() for m in history], prompt)

    @property
    def reply_starts_in_think(self) -> bool:
        """The prompt ends inside a ``<think>`` block (DeepSeek-R1 style): pass to ``split_think``."""
        try:
            return self.prompt_text("x").rstrip().endswith(THINK_START)
        except ForgeError:
            return False

    def stop(self) -> None:
        """Stop the reply being generated (safe from any thread)."""
        self._stop_event.set()

    def clear(self) -> None:
        """Forget the conversation and the prompt cache."""
        if self._busy:
            raise ForgeError("a reply is being generated", hint="stop it first (Esc)")
        self.history = []
        self.last_stats = None
        self._drop_kv()

    def _drop_kv(self) -> None:
        self._kv, self._kv_ids, self._kv_key = None, [], None

    # ----------------------------------------------------------------- turns

    def stream(self, prompt: str) -> Iterator[Chunk]:
        """Send ``prompt`` and stream the reply. The last chunk carries the stats."""
        return self._start(list(self.history), prompt)

    send = stream

    def regenerate(self) -> Iterator[Chunk]:
        """Generate the last reply again (the old one stays if this one is stopped before any token)."""
        idx = self._last_user_index()
        return self._start(self.history[:idx], self.history[idx].content)

    def edit_last_user(self, text: str) -> Iterator[Chunk]:
        """Replace the last user message with ``text`` and generate a new reply."""
        idx = self._last_user_index()
        return self._start(self.history[:idx], text)

    def _last_user_index(self) -> int:
        for i in range(len(self.history) - 1, -1, -1):
            if self.history[i].role == "user":
                return i
        raise ForgeError("there is no message to regenerate or edit", hint="send a message first")

    def _start(self, before: list[ChatMessage], prompt: str) -> Iterator[Chunk]:
        if not prompt or not prompt.strip():
            raise ForgeError("the prompt is empty", hint="type a message first")
        self.loaded  # noqa: B018 - raises a clear error when no model is loaded
        if self._busy:
            raise ForgeError("a reply is already being generated", hint="wait, or stop it with Esc")
        return self._consume(before, prompt)

    def _consume(self, before: list[ChatMessage], prompt: str) -> Iterator[Chunk]:
        with self._lock:
            if self._busy:
                raise ForgeError("a reply is already being generated", hint="wait, or stop it with Esc")
            self._busy = True
            self._stop_event = stop = threading.Event()
        channel = ChunkChannel(self.handoff_s)
        fut = None

        first_token = [True]

        def emit(chunk: Chunk) -> None:
            now = first_token[0] and chunk.token is not None  # the time to first token is not batched
            first_token[0] = first_token[0] and not now
            channel.put(chunk, now=now)
            if channel.interval <= 0:
                time.sleep(0)  # let the reader take the GIL now (not after the 5 ms switch interval)

        def job() -> None:
            try:
                self._turn(before, prompt, stop, emit)
            finally:
                channel.close()

        try:
            if self.cache.thread.is_current():  # called on the MLX thread: runs inline, no streaming
                job()
            else:
                fut = self.cache.thread.submit(job)
            for batch in channel.batches():
                yield from batch
            if fut is not None:
                fut.result()
        finally:
            stop.set()  # the consumer went away early: end the turn
            if fut is not None:
                try:
                    fut.result()
                except Exception:
                    pass
            self._busy = False

    # ----------------------------------------------------------------- on the MLX thread

    def _turn(self, before: list[ChatMessage], prompt: str, stop: threading.Event,
              emit: Callable[[Chunk], None]) -> None:
        import mlx.core as mx

        t0 = time.perf_counter()
        s = self.sampling.validate()
        ids, max_tokens = self._prompt_ids(before, prompt, s)
        n = self._reuse_cache(ids)
        processors = self._processors(s, ids, n)
        if s.seed is not None:
            mx.random.seed(s.seed)
        mx.reset_peak_memory()
        out = self._generate(ids[n:], max_tokens, s, processors, stop, emit, t0)
        self._settle_cache(ids, out.tokens, n)
        reply = self._full_reply(out, emit)
        t_end = time.perf_counter()
        gen_n = len(out.tokens)
        processed = len(ids) - n if out.tokens else out.prefilled
        stats = ReplyStats(
            prompt_tokens=len(ids), processed_tokens=processed, cached_tokens=n, generated_tokens=gen_n,
            ttft_s=out.ttft, prompt_tps=(processed / out.ttft) if out.ttft > 0 else 0.0,
            generation_tps=((gen_n - 1) / (t_end - out.t_first)) if gen_n > 1 and t_end > out.t_first else 0.0,
            peak_memory_gb=mx.get_peak_memory() / 1e9, finish_reason=out.finish,
            context_used=len(self._kv_ids), context_length=self.loaded.context_length, elapsed_s=t_end - t0)
        if out.tokens:
            self.history = [*before, ChatMessage("user", prompt), ChatMessage("assistant", reply, stats)]
        self.last_stats = stats
        emit(Chunk(stats=stats))

    def _prompt_ids(self, before: list[ChatMessage], prompt: str, s: SamplingSettings) -> tuple[list[int], int]:
        """``(ids, max_tokens)``: the formatted conversation as token ids, and how many tokens may follow."""
        loaded = self.loaded
        fmt = self.formatter()
        text = fmt.text(self.system_prompt, [m.as_template() for m in before], prompt)
        ids = list(loaded.tokenizer.encode(text, add_special_tokens=not fmt.instruct))
        ctx = loaded.context_length
        if ctx and len(ids) >= ctx:
            raise ForgeError(f"the conversation ({len(ids)} tokens) does not fit the model's context ({ctx})",
                             hint="clear the chat, or shorten the system prompt")
        return ids, min(s.max_tokens, ctx - len(ids)) if ctx else s.max_tokens

    def _reuse_cache(self, ids: list[int]) -> int:
        """Keep the KV cache's common prefix with ``ids`` (a new cache when it cannot be reused); its length."""
        from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache, trim_prompt_cache
        from mlx_lm.utils import common_prefix_len

        loaded = self.loaded
        if self._kv is None or self._kv_key != loaded.key or not self.reuse_prompt_cache \
                or _cache_offset(self._kv) not in (None, len(self._kv_ids)):
            self._kv, self._kv_ids, self._kv_key = make_prompt_cache(loaded.model), [], loaded.key
        n = min(common_prefix_len(self._kv_ids, ids), len(ids) - 1)
        if n < len(self._kv_ids):
            if can_trim_prompt_cache(self._kv):
                trim_prompt_cache(self._kv, len(self._kv_ids) - n)
            else:
                self._kv, n = make_prompt_cache(loaded.model), 0
        self._kv_ids = ids[:n]
        return n

    @staticmethod
    def _processors(s: SamplingSettings, ids: list[int], n: int) -> list:
        import mlx.core as mx
        from mlx_lm.sample_utils import make_logits_processors

        processors = make_logits_processors(
            repetition_penalty=s.repetition_penalty if s.repetition_penalty != 1.0 else None,
            repetition_context_size=s.repetition_context_size)
        if processors and n:  # let penalties see the cached part of the prompt, as without a cache
            tail = mx.array(ids[max(0, n - s.repetition_context_size):n])
            processors = [_with_prefix(p, tail) for p in processors]
        return processors

    def _generate(self, new_ids: list[int], max_tokens: int, s: SamplingSettings, processors: list,
                  stop: threading.Event, emit: Callable[[Chunk], None], t0: float) -> "_Generated":
        """Stream the reply to ``emit`` until it ends or ``stop`` is set (the KV cache is dropped on an error)."""
        import mlx.core as mx
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        out = _Generated()

        def on_progress(processed: int, total: int) -> None:
            out.prefilled = processed
            if stop.is_set():
                raise _Stopped
            if processed < total:
                emit(Chunk(progress=(processed, total)))

        gen = stream_generate(self.loaded.model, self.loaded.tokenizer, mx.array(new_ids), max_tokens=max_tokens,
                              sampler=make_sampler(s.temperature, s.top_p, s.min_p, top_k=s.top_k),
                              logits_processors=processors, prompt_cache=self._kv,
                              prefill_step_size=self.prefill_step_size, prompt_progress_callback=on_progress)
        try:
            for resp in gen:
                if not out.tokens:
                    out.t_first = time.perf_counter()
                    out.ttft = out.t_first - t0
                out.tokens.append(resp.token)
                out.pieces.append(resp.text)
                emit(Chunk(text=resp.text, token=resp.token))
                if resp.finish_reason:
                    out.finish = resp.finish_reason
                elif stop.is_set():
                    break
        except _Stopped:
            pass  # stopped during prompt processing
        except BaseException:
            self._drop_kv()
            raise
        finally:
            gen.close()
        return out

    def _settle_cache(self, ids: list[int], tokens: list[int], n: int) -> None:
        """The KV cache after a turn: prompt + reply, or rolled back to what it held when nothing was generated."""
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        if not tokens:  # nothing generated: roll the cache back to what it held, keep history
            if can_trim_prompt_cache(self._kv) and _cache_offset(self._kv) is not None:
                trim_prompt_cache(self._kv, _cache_offset(self._kv) - n)
            else:
                self._drop_kv()
        else:
            self._kv_ids = ids + tokens
            if _cache_offset(self._kv) not in (None, len(self._kv_ids)):
                self._drop_kv()

    def _full_reply(self, out: "_Generated", emit: Callable[[Chunk], None]) -> str:
        """The reply as the history keeps it: the full decode of the generated ids.

        The streaming detokenizer drops a leading space, and holds back a partial character when the
        reply is stopped; what the stream left out is emitted as a last chunk.
        """
        reply = "".join(out.pieces)
        if out.tokens:
            tok = self.loaded.tokenizer
            full = tok.decode([t for t in out.tokens if t not in tok.eos_token_ids])
            if full.startswith(reply) and len(full) > len(reply):
                emit(Chunk(text=full[len(reply):]))
            reply = full
        return reply


@dataclass
class _Generated:
    """What one reply's stream produced (``_generate``)."""

    tokens: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    finish: str = "stopped"
    ttft: float = 0.0
    t_first: float = 0.0
    prefilled: int = 0  # prompt tokens processed, as the progress callback last said


def _cache_offset(kv: list | None) -> int | None:
    if not kv:
        return None
    offset = getattr(kv[0], "offset", None)
    return offset if isinstance(offset, int) else None


def _with_prefix(processor, prefix):
    import mlx.core as mx

    return lambda tokens, logits: processor(mx.concatenate([prefix, tokens]), logits)
