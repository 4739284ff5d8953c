"""Chat benchmark, side by side in one run (writes bench/results/chat.json).

1. Decode speed: ``ChatSession.stream`` (MLX thread + batched hand-off) vs raw ``mlx_lm.stream_generate``
   on the same prompt, greedy, after a warm-up. Target: ratio >= 0.97.
2. Decode speed in the app (``app_decode_ratio``): the tok/s the Chat screen shows under a reply
   (the app driven with Textual's Pilot: the model opened, the prompt sent, then ``ctrl+r`` for
   each round, the reply streaming into the screen) vs raw ``stream_generate`` on the same model,
   prompt ids and length, rounds alternating. Target: >= 0.95.
3. Time to first token per turn of a 10-turn conversation (~1,500 tokens of history at turn 10):
   our prompt-cache reuse vs re-sending the whole history every turn (the original ForgeLLM).
   Target at turn 10: ratio <= 0.1.

Usage: python bench/bench_chat.py [--model DIR] [--turns 10] [--repeats 11] [--app-size 80x24]
Without --model it builds the offline demo workspace in a temp folder and uses forge-tiny.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forgellm_tui.core.runtime import backend as runtime  # noqa: E402

runtime.maybe_reexec_with_blas()

from forgellm_tui.core.demo.builder import build_demo  # noqa: E402
from forgellm_tui.core.chat import ChatSession, ModelCache, SamplingSettings  # noqa: E402
from forgellm_tui.core.models.discovery import inspect_path  # noqa: E402


def corpus_words(workspace: Path) -> list[str]:
    words: list[str] = []
    for f in sorted((workspace / "dataset").rglob("*.txt"))[:20]:
        words += f.read_text(encoding="utf-8", errors="replace").split()
    return words


def decode_tps_ours(chat: ChatSession, prompt: str) -> tuple[float, int]:
    chat.clear()
    times = []
    for c in chat.stream(prompt):
        if c.token is not None:
            times.append(time.perf_counter())
    return (len(times) - 1) / (times[-1] - times[0]), len(times)


def decode_tps_raw(model, tok, ids: list[int], max_tokens: int) -> tuple[float, int]:
    from mlx_lm import stream_generate

    times = []
    for _r in stream_generate(model, tok, ids, max_tokens=max_tokens):
        times.append(time.perf_counter())
    return (len(times) - 1) / (times[-1] - times[0]), len(times)


def bench_decode(cache: ModelCache, words: list[str], repeats: int, max_tokens: int) -> dict:
    loaded = cache.current
    sampling = SamplingSettings(temperature=0.0, max_tokens=max_tokens)
    chat = ChatSession(cache, sampling=sampling, instruct=False)
    prompt = " ".join(words[:200])
    ids = chat.loaded.tokenizer.encode(chat.prompt_text(prompt))
    from mlx_lm import load

    model, tok = load(str(loaded.ref.base_path))  # raw mlx-lm copy in this (main) thread
    decode_tps_ours(chat, prompt), decode_tps_raw(model, tok, ids, max_tokens)  # warm-up both
    ours, raw = [], []
    for _ in range(repeats):  # interleaved so drift hits both sides alike
        ours.append(decode_tps_ours(chat, prompt)[0])
        raw.append(decode_tps_raw(model, tok, ids, max_tokens)[0])
    return {"prompt_tokens": len(ids), "max_tokens": max_tokens, "ours_tps": ours, "raw_tps": raw,
            "ours_median": statistics.median(ours), "raw_median": statistics.median(raw),
            "decode_ratio": statistics.median(ours) / statistics.median(raw),
            "decode_ratio_best": max(ours) / max(raw)}


async def _wait(condition, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the app did not get there in time")
        await asyncio.sleep(0.02)


async def _app_decode(workspace: Path, model_dir: Path, prompt: str, repeats: int, max_tokens: int,
                      size: tuple[int, int]) -> dict:
    from mlx_lm import load

    from forgellm_tui.settings import Settings
    from forgellm_tui.tui.app import ForgeApp
    from forgellm_tui.tui.widgets.chat_log import AssistantMessage
    from forgellm_tui.tui.widgets.prompt_input import PromptInput

    app = ForgeApp(Settings.load(workspace), detect_device=False)
    shown, raw, lines = [], [], []
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        await _wait(lambda: type(app.screen).__name__ == "ChatScreen" and app.screen.session is not None)
        chat = app.screen
        chat.open_in_chat(model_dir)
        await _wait(lambda: chat.cache.current is not None and isinstance(app.focused, PromptInput))
        for name, value in {"temperature": "0", "seed": "0", "max_tokens": str(max_tokens)}.items():
            chat.query_one(f"#set-{name}").value = value
        await _wait(lambda: chat.session.sampling.max_tokens == max_tokens)
        ids = chat.session.loaded.tokenizer.encode(chat.session.prompt_text(prompt))
        model, tok = load(str(model_dir))  # raw mlx-lm copy, run in this thread while the app is idle

        async def reply(*keys: str) -> float:
            await pilot.press(*keys)
            await _wait(lambda: not chat.generating and chat.session.last_stats is not None
                        and chat.query(AssistantMessage) and "tok/s" in str(
                            chat.query(AssistantMessage).last().query_one(".reply-stats").content))
            line = str(chat.query(AssistantMessage).last().query_one(".reply-stats").content)
            lines.append(line)
            return float(re.search(r"([\d.]+) tok/s", line).group(1))

        chat.query_one(PromptInput).set_text(prompt)
        await reply("enter")  # warm-up, both sides
        decode_tps_raw(model, tok, ids, max_tokens)
        for _ in range(repeats):  # alternating, so drift hits both sides alike
            shown.append(await reply("ctrl+r"))
            raw.append(decode_tps_raw(model, tok, ids, max_tokens)[0])
        generated = chat.session.last_stats.generated_tokens
    return {"size": list(size), "prompt_tokens": len(ids), "max_tokens": max_tokens, "generated_tokens": generated,
            "app_shown_tps": shown, "raw_tps": raw, "app_median": statistics.median(shown),
            "raw_median": statistics.median(raw), "app_decode_ratio": statistics.median(shown) / statistics.median(raw),
            "last_stats_line": lines[-1]}


def bench_app_decode(workspace: Path, model_dir: Path, words: list[str], repeats: int, max_tokens: int,
                     size: tuple[int, int]) -> dict:
    """The tok/s the Chat screen shows vs raw ``stream_generate`` (same model, prompt and length)."""
    return asyncio.run(_app_decode(workspace, model_dir, " ".join(words[:200]), repeats, max_tokens, size))


def one_conversation(cache: ModelCache, words: list[str], turns: int, reply_tokens: int,
                     prompt_words: int) -> list[dict]:
    sampling = SamplingSettings(temperature=0.0, max_tokens=reply_tokens)
    cached = ChatSession(cache, system_prompt="You are a helpful Python expert.", sampling=sampling)
    full = ChatSession(cache, system_prompt="You are a helpful Python expert.", sampling=sampling,
                       reuse_prompt_cache=False)
    rows = []
    for turn in range(1, turns + 1):
        prompt = " ".join(words[turn * prompt_words:(turn + 1) * prompt_words])
        full.history = list(cached.history)  # the same conversation, re-sent in full
        row = {"turn": turn}
        for label, chat in (("full", full), ("cached", cached)):
            t0 = time.perf_counter()
            first = None
            for c in chat.stream(prompt):
                if first is None and c.token is not None:
                    first = time.perf_counter() - t0
            row[f"{label}_ttft_s"] = first
            row[f"{label}_processed"] = chat.last_stats.processed_tokens
            row["prompt_tokens"] = chat.last_stats.prompt_tokens
        rows.append(row)
    return rows


def bench_ttft(cache: ModelCache, words: list[str], turns: int, repeats: int, reply_tokens: int = 110,
               prompt_words: int = 30) -> dict:
    """Median per-turn TTFT over ``repeats`` identical conversations (greedy, so replies repeat)."""
    runs = [one_conversation(cache, words, turns, reply_tokens, prompt_words) for _ in range(repeats)]
    rows = []
    for i, first in enumerate(runs[0]):
        row = dict(first)
        for key in ("full_ttft_s", "cached_ttft_s"):
            row[key] = statistics.median(r[i][key] for r in runs)
        rows.append(row)
    last = rows[-1]
    return {"turns": rows, "repeats": repeats, "reply_tokens": reply_tokens, "prompt_words": prompt_words,
            "history_tokens_at_last_turn": last["prompt_tokens"],
            "ttft_cache_ratio": last["cached_ttft_s"] / last["full_ttft_s"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model folder (default: the demo forge-tiny)")
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--decode-tokens", type=int, default=256)
    ap.add_argument("--app-size", default="80x24", help="terminal size of the app for app_decode_ratio")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "chat.json"))
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="forgellm-bench-")
    workspace = Path(tmp.name) / "ws"
    build_demo(workspace)
    model_dir = Path(args.model) if args.model else workspace / "models" / "base" / "forge-tiny"
    cache = ModelCache()
    cache.load(inspect_path(model_dir))
    words = corpus_words(workspace)
    load_before = round(os.getloadavg()[0], 2)

    decode = bench_decode(cache, words, args.repeats, args.decode_tokens)
    print(f"decode tok/s  ours {decode['ours_median']:8.1f}   raw mlx_lm {decode['raw_median']:8.1f}   "
          f"ratio {decode['decode_ratio']:.3f}  (target >= 0.97; best-of-{args.repeats} ratio "
          f"{decode['decode_ratio_best']:.3f})")
    size = tuple(int(n) for n in args.app_size.lower().split("x"))
    app = bench_app_decode(workspace, model_dir, words, args.repeats, args.decode_tokens, size)
    print(f"in the app ({size[0]}x{size[1]}): shown tok/s {app['app_median']:8.1f}   raw mlx_lm "
          f"{app['raw_median']:8.1f}   app_decode_ratio {app['app_decode_ratio']:.3f}  (target >= 0.95)")
    ttft = bench_ttft(cache, words, args.turns, max(3, args.repeats // 2))
    print(f"{'turn':>4} {'prompt tok':>10} {'full TTFT ms':>12} {'cached TTFT ms':>14} {'full fed':>8} {'cached fed':>10}")
    for r in ttft["turns"]:
        print(f"{r['turn']:>4} {r['prompt_tokens']:>10} {1000 * r['full_ttft_s']:>12.1f} "
              f"{1000 * r['cached_ttft_s']:>14.1f} {r['full_processed']:>8} {r['cached_processed']:>10}")
    print(f"turn {args.turns}: TTFT ratio cached/full {ttft['ttft_cache_ratio']:.3f} (target <= 0.1), "
          f"history {ttft['history_tokens_at_last_turn']} tokens")
    result = {"model": str(model_dir), "device": runtime.device_info().label(),
              "decode_ratio": decode["decode_ratio"], "app_decode_ratio": app["app_decode_ratio"],
              "ttft_cache_ratio": ttft["ttft_cache_ratio"], "decode": decode, "app_decode": app, "ttft": ttft,
              "load_average_before": load_before, "load_average_after": round(os.getloadavg()[0], 2), "measured_at": time.strftime("%Y-%m-%d %H:%M")}
    from forgellm_tui.core import fsio

    fsio.atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    cache.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
