"""Samples while training: at each sampling point the model continues each ``sample_prompts`` text
greedily, from the weights being trained (no copy), and the records go to the run's ``samples.jsonl``.

Greedy decoding (argmax) draws no random numbers, so neither MLX's random state nor the data order
(numpy generators owned by the batch stream) moves: a run with samples trains exactly like one
without, and a resumed run exactly like an uninterrupted one. The model is switched to eval mode
(no dropout) for the generation and back to train mode after it.
"""

from __future__ import annotations

import time
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.runs import SAMPLES


def prompt_ids(tokenizer, prompt: str, chat: bool) -> list[int]:
    """The token ids a sample starts from: the text itself (CPT), or a user message in the model's chat
    template followed by the assistant's turn (IFT, when the tokenizer has a template)."""
    if chat and getattr(tokenizer, "has_chat_template", False):
        return list(tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                  add_generation_prompt=True, return_dict=False))
    return list(tokenizer.encode(prompt))


def greedy_text(model, tokenizer, ids: list[int], max_tokens: int) -> str:
    """At most ``max_tokens`` tokens after ``ids``, each the most likely one, until an end-of-text token."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step

    stop = set(getattr(tokenizer, "eos_token_ids", None) or ())
    out: list[int] = []
    for token, _ in generate_step(mx.array(ids), model, max_tokens=max_tokens,
                                  sampler=lambda logits: mx.argmax(logits, axis=-1)):
        token = int(token)
        if token in stop:
            break
        out.append(token)
    return tokenizer.decode(out)


class Sampler:
    """Which iterations are sampling points, and the sampling itself (``sample``)."""

    def __init__(self, cfg, tokenizer, run_dir: Path):
        self.prompts = list(cfg.sample_prompts or [])
        self.every = cfg.effective_sample_every
        self.max_tokens = cfg.sample_max_tokens
        self.tokenizer = tokenizer
        self.path = Path(run_dir) / SAMPLES
        self._ids = [prompt_ids(tokenizer, p, cfg.training_type != "cpt") for p in self.prompts]

    def due(self, iteration: int, last: bool) -> bool:
        return bool(self.prompts) and (iteration % self.every == 0 or last)

    def sample(self, model, iteration: int) -> list[dict]:
        """One record per prompt, appended to ``samples.jsonl`` together (one flush and fsync)."""
        model.eval()
        try:
            texts = [greedy_text(model, self.tokenizer, ids, self.max_tokens) for ids in self._ids]
        finally:
            model.train()
        now = time.time()
        records = [{"iteration": iteration, "prompt": p, "text": t, "time": round(now, 3)}
                   for p, t in zip(self.prompts, texts)]
        with fsio.JsonlAppender(self.path, fsync=False) as out:
            out.append_all(records)
        return records
