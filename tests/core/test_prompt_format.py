"""Prompt formatting with the real chat templates in tests/fixtures/tokenizers, base prompts, <think>."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.chat.prompt_format import (MERGE, NATIVE, JinjaTemplate, PromptFormatter, format_base,
                                             merge_system, split_think, tokenizer_render)

TOKENIZERS = Path(__file__).parents[1] / "fixtures" / "tokenizers"
TEMPLATED = ["deepseek-r1-distill-qwen-32b", "gemma-2b-it", "gemma-3-it", "llama-3.2-3b-instruct",
             "mistral-7b-instruct-v0.3", "phi-3-mini-128k-instruct", "qwen2.5-coder-3b-instruct"]
SYSTEM = "You are a terse pirate."
HISTORY = [{"role": "user", "content": "first question"}, {"role": "assistant", "content": "first answer"}]


def test_fixture_folders_are_all_covered():
    folders = sorted(p.name for p in TOKENIZERS.iterdir() if p.is_dir())
    assert folders == sorted(TEMPLATED + ["gpt2-xl"])
    assert JinjaTemplate.from_folder(TOKENIZERS / "gpt2-xl") is None  # the base model has no template


@pytest.mark.parametrize("name", TEMPLATED)
def test_every_template_honours_the_system_prompt(name):
    fmt = PromptFormatter(JinjaTemplate.from_folder(TOKENIZERS / name), instruct=True)
    text = fmt.text(SYSTEM, HISTORY, "second question")
    assert text.count(SYSTEM) == 1, text
    # system first, then the turns in order, and the new prompt last
    positions = [text.index(s) for s in (SYSTEM, "first question", "first answer", "second question")]
    assert positions == sorted(positions), text
    assert text[positions[-1] + len("second question"):].strip()  # the assistant turn is opened


@pytest.mark.parametrize("name, mode", [
    ("gemma-2b-it", MERGE),                 # raises "System role not supported"
    ("phi-3-mini-128k-instruct", MERGE),    # silently drops the system message
    ("mistral-7b-instruct-v0.3", MERGE),    # moves it to the last user turn (breaks the prompt cache)
    ("gemma-3-it", NATIVE), ("qwen2.5-coder-3b-instruct", NATIVE), ("llama-3.2-3b-instruct", NATIVE),
    ("deepseek-r1-distill-qwen-32b", NATIVE),
])
def test_system_handling_is_chosen_per_template(name, mode):
    fmt = PromptFormatter(JinjaTemplate.from_folder(TOKENIZERS / name), instruct=True)
    assert fmt.system_mode == mode


def test_merged_system_goes_into_the_first_user_turn():
    text = PromptFormatter(JinjaTemplate.from_folder(TOKENIZERS / "gemma-2b-it"), True).text(SYSTEM, HISTORY, "q2")
    assert f"<start_of_turn>user\n{SYSTEM}\n\nfirst question<end_of_turn>" in text
    assert merge_system([{"role": "system", "content": "S"}, {"role": "assistant", "content": "a"}]) == [
        {"role": "user", "content": "S"}, {"role": "assistant", "content": "a"}]


@pytest.mark.parametrize("name", TEMPLATED + ["gpt2-xl"])
def test_each_turn_extends_the_previous_prompt(name):
    """What the prompt cache relies on: turn 1's text is a prefix of turn 2's text."""
    render = JinjaTemplate.from_folder(TOKENIZERS / name)
    fmt = PromptFormatter(render, instruct=render is not None)
    assert fmt.text(SYSTEM, HISTORY, "q2").startswith(fmt.text(SYSTEM, [], "first question"))


@pytest.mark.parametrize("name", ["qwen2.5-coder-3b-instruct", "mistral-7b-instruct-v0.3", "phi-3-mini-128k-instruct"])
def test_template_rendering_matches_the_real_tokenizer(name):
    from mlx_lm.tokenizer_utils import load

    tok = load(TOKENIZERS / name)
    real = PromptFormatter(tokenizer_render(tok), True).text(SYSTEM, HISTORY, "q2")
    assert real == PromptFormatter(JinjaTemplate.from_folder(TOKENIZERS / name), True).text(SYSTEM, HISTORY, "q2")
    assert isinstance(tok.apply_chat_template([{"role": "user", "content": "q"}], add_generation_prompt=True), list)


def test_base_prompt_is_plain_text():
    assert format_base(SYSTEM, HISTORY, "q2") == f"{SYSTEM}\n\nfirst questionfirst answer\n\nq2"
    assert format_base("", [], "Once upon a time") == "Once upon a time"
    assert PromptFormatter(None, instruct=False).text("S", [], "p") == "S\n\np"


def test_instruct_without_template_is_a_clear_error():
    with pytest.raises(ModelError, match="no chat template"):
        PromptFormatter(None, instruct=True)


def test_demo_model_base_vs_instruct_formatting(demo_model):
    from mlx_lm.tokenizer_utils import load

    render = tokenizer_render(load(demo_model))
    instruct = PromptFormatter(render, True).text("Be brief.", HISTORY, "q2")
    assert instruct.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nfirst question")
    assert instruct.endswith("<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n")
    base = PromptFormatter(render, False).text("Be brief.", HISTORY, "q2")
    assert "<|im_start|>" not in base and base == "Be brief.\n\nfirst questionfirst answer\n\nq2"


@pytest.mark.parametrize("text, open_at_start, expect", [
    ("plain answer", False, ("", "plain answer", False)),
    ("<think>hmm, let me see</think>\n\nThe answer.", False, ("hmm, let me see", "The answer.", False)),
    ("<think>still going", False, ("still going", "", True)),
    ("reasoning without tag</think>Answer", False, ("reasoning without tag", "Answer", False)),
    ("partial reasoning", True, ("partial reasoning", "", True)),
    ("", True, ("", "", True)),
    ("a<think>x</think>b<think>y</think>c", False, ("xy", "abc", False)),
])
def test_split_think(text, open_at_start, expect):
    parts = split_think(text, open_at_start)
    assert (parts.think, parts.answer, parts.thinking) == expect
