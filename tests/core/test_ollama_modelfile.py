"""The Ollama Modelfile: its TEMPLATE, run through a Go-template renderer, gives what the model's own chat
template gives (real templates from tests/fixtures/tokenizers); stop tokens, SYSTEM, plain fallback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forgellm_tui.core.export import build_modelfile
from gotemplate import render

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tokenizers"
CONVERSATION = [{"role": "system", "content": "You answer in one line."}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello there"}, {"role": "user", "content": "what is MLX?"}]
DATE = "30 Nov 2026"


def own_rendering(folder: Path, messages: list[dict]) -> str:
    """The model's chat template rendered as transformers renders it (the runner adds BOS, so none here)."""
    from transformers.utils.chat_template_utils import _compile_jinja_template

    from forgellm_tui.core.models import files

    template = _compile_jinja_template(files.read_chat_template(folder))
    return template.render(messages=messages, add_generation_prompt=True, bos_token="", eos_token="</s>",
                           date_string=DATE)


def modelfile_parts(text: str) -> dict:
    """FROM, TEMPLATE, SYSTEM and the stop parameters of a Modelfile."""
    parts: dict = {"stop": []}
    rest = text
    while rest:
        line, _, rest = rest.partition("\n")
        key, _, value = line.partition(" ")
        if value.startswith('"""'):
            body = value[3:] + "\n" + rest
            value, _, rest = body.partition('"""')
            parts[key] = value
            rest = rest.lstrip("\n")
        elif key == "PARAMETER":
            name, _, stop = value.partition(" ")
            parts["stop"].append(stop.strip('"'))
        elif key:
            parts[key] = value
    return parts


@pytest.mark.parametrize("fixture", ["qwen2.5-coder-3b-instruct", "llama-3.2-3b-instruct"])
def test_template_renders_like_the_models_own(fixture):
    folder = FIXTURES / fixture
    made = build_modelfile(folder, system=CONVERSATION[0]["content"])
    parts = modelfile_parts(made.text)
    assert parts["FROM"] == "./model.gguf"
    assert parts["SYSTEM"] == CONVERSATION[0]["content"]
    ollama = render(parts["TEMPLATE"], CONVERSATION, system=parts["SYSTEM"], current_date=DATE)
    assert ollama == own_rendering(folder, CONVERSATION)
    # without a system message too (Qwen's template then injects its own default system text)
    made = build_modelfile(folder)
    parts = modelfile_parts(made.text)
    ollama = render(parts["TEMPLATE"], CONVERSATION[1:], system=parts.get("SYSTEM", ""), current_date=DATE)
    assert ollama == own_rendering(folder, CONVERSATION[1:])


def test_families_and_stop_tokens(tmp_path):
    expect = {"qwen2.5-coder-3b-instruct": ("chatml", "<|im_end|>"), "llama-3.2-3b-instruct": ("llama-3", "<|eot_id|>"),
              "mistral-7b-instruct-v0.3": ("mistral", "</s>"), "gemma-2b-it": ("gemma", "<end_of_turn>"),
              "gemma-3-it": ("gemma", "<end_of_turn>")}
    for fixture, (family, stop) in expect.items():
        made = build_modelfile(FIXTURES / fixture)
        assert made.family == family, fixture
        assert stop in modelfile_parts(made.text)["stop"], fixture
        assert made.note is None


def test_gemma_template_renders_a_user_turn():
    made = build_modelfile(FIXTURES / "gemma-2b-it")
    messages = [{"role": "user", "content": "hi"}]
    assert render(modelfile_parts(made.text)["TEMPLATE"], messages) == own_rendering(FIXTURES / "gemma-2b-it",
                                                                                    messages)


def test_model_without_chat_template_gets_a_plain_template_and_a_note(tmp_path):
    folder = tmp_path / "gpt2"
    shutil.copytree(FIXTURES / "gpt2-xl", folder)
    made = build_modelfile(folder, system="Be brief.")
    parts = modelfile_parts(made.text)
    assert made.family is None
    assert "{{ .Prompt }}" in parts["TEMPLATE"] and parts["SYSTEM"] == "Be brief."
    assert "plain template" in made.note and "it has none" in made.note
