"""Prompt formatting: chat templates for instruct models, plain text for base models, `<think>` split.

Every template family must honour the system prompt. Some templates raise on the system role
(Gemma 1/2), some drop it (Phi-3), and some move it to the *last* user turn (Mistral), which would
change the prompt prefix every turn and defeat the prompt cache. For all three we merge the system
text into the first user message ("system\\n\\nuser"), which keeps it and keeps the prefix stable.
The choice is made once per template by rendering a probe conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from forgellm_tui.core.models import files as mf
from forgellm_tui.core.errors import ModelError

#: (messages, add_generation_prompt) -> prompt text
Render = Callable[[list, bool], str]
NATIVE, MERGE = "native", "merge"
THINK_START, THINK_END = "<think>", "</think>"
_PROBE = ("SYSPROBE-q7x", "USERPROBE-k2m", "ASSISTPROBE-z9w", "USERPROBE-r4t")


def chat_messages(system: str, history: Sequence[dict], prompt: str | None) -> list[dict]:
    """The message list for a chat template: optional system, history, then the new user prompt."""
    msgs = [{"role": "system", "content": system}] if system.strip() else []
    msgs += [{"role": m["role"], "content": m["content"]} for m in history]
    if prompt is not None:
        msgs.append({"role": "user", "content": prompt})
    return msgs


def merge_system(messages: Sequence[dict]) -> list[dict]:
    """Move the system text into the first user message (``system + blank line + user``)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def probe_system_mode(render: Render) -> str:
    """NATIVE when the template keeps a system message ahead of the first user turn, else MERGE."""
    s, u1, a1, u2 = _PROBE
    msgs = [{"role": "system", "content": s}, {"role": "user", "content": u1},
            {"role": "assistant", "content": a1}, {"role": "user", "content": u2}]
    try:
        out = render(msgs, True)
    except Exception:  # jinja raise_exception ("System role not supported") and the like
        return MERGE
    if s not in out or u1 not in out or out.index(s) > out.index(u1):
        return MERGE
    return NATIVE


def format_base(system: str, history: Sequence[dict], prompt: str) -> str:
    """Plain text for a base model: system + blank line + history + prompt.

    A reply continues its prompt directly (it was generated that way), and turns are separated
    by a blank line, so each turn's text is a prefix of the next turn's text.
    """
    turns: list[str] = []
    for m in history:
        if m["role"] == "user" or not turns:
            turns.append(m["content"])
        else:
            turns[-1] += m["content"]
    head = f"{system}\n\n" if system.strip() else ""
    return head + "".join(t + "\n\n" for t in turns) + prompt


class JinjaTemplate:
    """Render a chat template without a tokenizer, the way transformers does (for template-only folders)."""

    def __init__(self, template: str, tokens: dict[str, str] | None = None):
        self.template = template
        self.tokens = dict(tokens or {})

    @classmethod
    def from_folder(cls, folder: str | Path) -> "JinjaTemplate | None":
        folder = Path(folder)
        template = mf.read_chat_template(folder)
        return None if template is None else cls(template, mf.special_tokens(folder))

    def __call__(self, messages: list, add_generation_prompt: bool) -> str:
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, _ = render_jinja_template(conversations=[messages], chat_template=self.template,
                                            add_generation_prompt=add_generation_prompt, **self.tokens)
        return rendered[0]


def tokenizer_render(tokenizer) -> Render | None:
    """A Render for an mlx-lm TokenizerWrapper, or None when it has no chat template."""
    if not getattr(tokenizer, "has_chat_template", False):
        return None
    return lambda msgs, gen: tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)


class PromptFormatter:
    """Turns (system prompt, history, new prompt) into the text fed to one model."""

    def __init__(self, render: Render | None, instruct: bool):
        if instruct and render is None:
            raise ModelError("this model has no chat template, so it cannot be used as instruct",
                             hint="switch the prompt format to base (plain text)")
        self.render = render
        self.instruct = instruct
        self._mode: str | None = None

    @property
    def system_mode(self) -> str:
        if self._mode is None:
            self._mode = probe_system_mode(self.render) if self.render else NATIVE
        return self._mode

    def text(self, system: str, history: Sequence[dict], prompt: str) -> str:
        if not self.instruct:
            return format_base(system, history, prompt)
        msgs = chat_messages(system, history, prompt)
        if self.system_mode == MERGE:
            msgs = merge_system(msgs)
        try:
            return self.render(msgs, True)
        except Exception as exc:
            raise ModelError(f"the chat template failed: {exc}",
                             hint="switch the prompt format to base, or fix chat_template in the model folder") from exc


@dataclass(frozen=True)
class ThinkParts:
    think: str      # text inside <think> blocks, joined
    answer: str     # everything else
    thinking: bool  # a block is still open (the model is thinking right now)


def split_think(text: str, open_at_start: bool = False) -> ThinkParts:
    """Split a reply into its ``<think>`` part and its answer, for collapsing in the UI.

    ``open_at_start``: the prompt already ended with ``<think>`` (DeepSeek-R1, Qwen3 templates),
    so the reply starts inside a block. A ``</think>`` with no opening tag also counts as that.
    """
    think, answer, rest = [], [], text
    inside = open_at_start or (THINK_END in text and (THINK_START not in text
                                                      or text.index(THINK_END) < text.index(THINK_START)))
    while rest:
        if inside:
            body, sep, rest = rest.partition(THINK_END)
            think.append(body)
            if not sep:
                return ThinkParts("".join(think).strip(), "".join(answer).strip(), True)
            inside = False
        else:
            body, sep, rest = rest.partition(THINK_START)
            answer.append(body)
            inside = bool(sep)
            if inside and not rest:
                return ThinkParts("".join(think).strip(), "".join(answer).strip(), True)
    return ThinkParts("".join(think).strip(), "".join(answer).strip(), inside)
