"""Preference pairs as token ids: the prompt as the chat template renders it before the answer, and each
answer as exactly the text the template renders after it (content and end of turn), cut to fit."""

from __future__ import annotations

import pytest

from forgellm_tui.core.datasets import PreferenceRecord
from forgellm_tui.core.errors import DataError
from forgellm_tui.core.preference import tokenize_pairs
from preference_helpers import CHOSEN, PROMPTS, REJECTED, TOKENIZERS, load_tokenizer, records

#: (folder under the fixtures, end-of-turn text the template renders after an answer)
TEMPLATED = [("qwen2.5-coder-3b-instruct", "<|im_end|>\n"), ("mistral-7b-instruct-v0.3", "</s>")]


def _check_answers(tok, pairs, recs, end: str) -> None:
    for i, record in enumerate(recs):
        assert tok.decode(pairs.chosen[i].tolist()) == record.chosen + end
        assert tok.decode(pairs.rejected[i].tolist()) == record.rejected + end
        prompt = tok.decode(pairs.prompts[i].tolist())
        assert record.messages[-1]["content"] in prompt and record.chosen not in prompt


def test_demo_tokenizer_answers_are_the_answer_text_and_end_of_turn(demo_model):
    tok = load_tokenizer(demo_model)
    recs = records()
    pairs = tokenize_pairs(recs, tok, 256, "train.jsonl")
    assert len(pairs) == len(recs) and pairs.truncated == 0 and pairs.unstable == 0
    _check_answers(tok, pairs, recs, "<|im_end|>\n")
    # the prompt ends with the assistant's header: what the model is given before it answers
    assert tok.decode(pairs.prompts[0].tolist()).endswith("<|im_start|>assistant\n")
    expected = sum(2 * len(p) + len(c) + len(r) for p, c, r in zip(pairs.prompts, pairs.chosen, pairs.rejected))
    assert pairs.tokens == expected


@pytest.mark.parametrize(("name", "end"), TEMPLATED)
def test_real_templates_render_the_answer_after_the_prompt(name, end):
    tok = load_tokenizer(TOKENIZERS / name)
    recs = records()
    pairs = tokenize_pairs(recs, tok, 512, "train.jsonl")
    assert pairs.unstable == 0
    _check_answers(tok, pairs, recs, end)
    # prompt + answer is exactly the whole conversation as the template renders it
    full = tok.apply_chat_template([*recs[0].messages, {"role": "assistant", "content": recs[0].chosen}],
                                   return_dict=False)
    assert list(full) == pairs.prompts[0].tolist() + pairs.chosen[0].tolist()


def test_a_conversation_before_the_answer_is_all_prompt(demo_model):
    tok = load_tokenizer(demo_model)
    messages = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPTS[0]},
                {"role": "assistant", "content": CHOSEN[0]}, {"role": "user", "content": PROMPTS[1]})
    pairs = tokenize_pairs([PreferenceRecord(messages, CHOSEN[1], REJECTED[1])], tok, 256, "train.jsonl")
    prompt = tok.decode(pairs.prompts[0].tolist())
    assert all(m["content"] in prompt for m in messages)
    assert tok.decode(pairs.chosen[0].tolist()) == CHOSEN[1] + "<|im_end|>\n"


def test_a_tokenizer_without_chat_template_gets_the_plain_text_and_eos():
    tok = load_tokenizer(TOKENIZERS / "gpt2-xl")
    assert not tok.has_chat_template
    recs = records(2)
    pairs = tokenize_pairs(recs, tok, 128, "train.jsonl")
    assert tok.decode(pairs.prompts[0].tolist()) == PROMPTS[0]
    assert tok.decode(pairs.chosen[0].tolist()) == CHOSEN[0] + "<|endoftext|>"
    assert tok.decode(pairs.rejected[1].tolist()) == REJECTED[1] + "<|endoftext|>"


def test_answers_are_cut_to_fit_max_seq_length(demo_model):
    tok = load_tokenizer(demo_model)
    recs = records()
    full = tokenize_pairs(recs, tok, 256, "train.jsonl")
    limit = max(len(p) for p in full.prompts) + 4
    cut = tokenize_pairs(recs, tok, limit, "train.jsonl")
    for i in range(len(recs)):
        room = limit - len(cut.prompts[i])
        assert cut.chosen[i].tolist() == full.chosen[i][:room].tolist()
        assert cut.rejected[i].tolist() == full.rejected[i][:room].tolist()
        assert len(cut.prompts[i]) + max(len(cut.chosen[i]), len(cut.rejected[i])) <= limit
    assert cut.truncated == sum(len(c) + len(p) > limit or len(r) + len(p) > limit
                                for p, c, r in zip(full.prompts, full.chosen, full.rejected)) > 0


def test_a_prompt_with_no_room_for_an_answer_names_its_line(demo_model):
    tok = load_tokenizer(demo_model)
    recs = records(3)
    fits = tokenize_pairs(recs, tok, 256, "train.jsonl")
    long = [recs[0], recs[1], PreferenceRecord(({"role": "user", "content": "word " * 200},), "yes", "no")]
    limit = len(fits.prompts[0]) + 8
    with pytest.raises(DataError) as err:
        tokenize_pairs(long, tok, limit, "data/p/train.jsonl")
    prompt = tokenize_pairs(long[2:], tok, 1024, "x").prompts[0]
    assert str(err.value) == (f"data/p/train.jsonl: line 3: the prompt is {len(prompt)} tokens, max_seq_length is "
                              f"{limit}: both answers are truncated away — raise max_seq_length or shorten the prompt")


#: a reasoning model's rule: the generation prompt opens a thinking block that the rendered answer does not have
OPENS_THINKING = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
                  "{% if add_generation_prompt %}<|assistant|><think>{% endif %}")


class CharTemplate:
    """A tokenizer with one id per character, rendering a given chat template."""

    has_chat_template = True

    def __init__(self, template: str):
        from forgellm_tui.core.chat.prompt_format import JinjaTemplate

        self.render = JinjaTemplate(template)

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, return_dict=False):
        return [ord(c) for c in self.render(messages, add_generation_prompt)]

    def decode(self, ids) -> str:
        return "".join(chr(i) for i in ids)


def test_a_prompt_that_is_not_a_prefix_of_the_answer_is_cut_where_the_renderings_agree():
    tok = CharTemplate(OPENS_THINKING)
    pairs = tokenize_pairs(records(2), tok, 512, "train.jsonl")
    assert pairs.unstable == 2
    assert tok.decode(pairs.prompts[0].tolist()) == f"<|user|>{PROMPTS[0]}<|end|><|assistant|>"
    assert tok.decode(pairs.chosen[0].tolist()) == CHOSEN[0] + "<|end|>"
    assert tok.decode(pairs.rejected[1].tolist()) == REJECTED[1] + "<|end|>"
    # answers that start alike keep their common start: it is not taken for prompt
    alike = tokenize_pairs([PreferenceRecord(({"role": "user", "content": "Hi"},), "The adapter.", "The cheque.")],
                           tok, 512, "train.jsonl")
    assert tok.decode(alike.chosen[0].tolist()) == "The adapter.<|end|>"
