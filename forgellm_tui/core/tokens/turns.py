"""Which tokens of a rendered conversation are the assistant's: spans found from the chat template itself.

The conversation is rendered turn by turn. An assistant turn ``k`` spans from the end of the rendering
of ``messages[:k]`` with the generation prompt (the ``<|im_start|>assistant\\n`` a model would be given)
to the end of the rendering of ``messages[:k + 1]`` (its content and end-of-turn token, and whatever
the template puts after them). That is only right when each rendering is a token prefix of the next
and of the whole conversation; templates that rewrite earlier turns (dropping earlier reasoning blocks,
adding a marker only after the final turn) are not, and ``assistant_spans`` returns None for them.
"""

from __future__ import annotations


def render(tokenizer, messages: list[dict], tools=None, generation_prompt: bool = False) -> list[int]:
    return list(tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=generation_prompt,
                                              return_dict=False))


def assistant_spans(tokenizer, messages: list[dict], tools, ids: list[int]) -> list[tuple[int, int]] | None:
    """``[(start, end), ...]`` token spans of every assistant turn in ``ids`` (the full rendering), or
    None when the template is not prefix-stable on this conversation (or fails on part of it)."""
    spans: list[tuple[int, int]] = []
    for k, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        try:
            before = render(tokenizer, messages[:k], tools, generation_prompt=True)
            through = ids if k == len(messages) - 1 else render(tokenizer, messages[:k + 1], tools)
        except Exception:  # noqa: BLE001 - a template may refuse a partial conversation (e.g. strict alternation)
            return None
        start, end = len(before), len(through)
        if end <= start or through[:start] != before or ids[:end] != through:
            return None
        if spans and start < spans[-1][1]:
            return None
        spans.append((start, end))
    return spans
