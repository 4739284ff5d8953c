"""Preparing preference pairs (DPO, ORPO): bad lines by file and line, a split by prompt, prompt/answer
tokens under the chat template, and data of another kind refused with the command that prepares it."""

from __future__ import annotations

import json

import pytest

from forgellm_tui.core.datasets import PrepareOptions, prepare, read_manifest, read_preference_file
from forgellm_tui.core.errors import DataError


def pair(prompt: str, chosen: str, rejected: str) -> str:
    return json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}) + "\n"


def write_pairs(path, prompts: int = 40, per_prompt: int = 3) -> None:
    """``prompts`` questions with ``per_prompt`` pairs each (the same question, different answers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(pair(f"What does function number {i} return?", f"It returns the value {i}.",
                                 f"It raises an error number {i + k}.") for i in range(prompts)
                            for k in range(per_prompt)), encoding="utf-8")


def options(tmp_path, source, model=None, **kw) -> PrepareOptions:
    kw.setdefault("test_fraction", 0.1)
    return PrepareOptions("preference", tmp_path, tmp_path / "data" / "prefs", model_path=model,
                          preference_input=source, **kw)


def test_pairs_of_one_prompt_stay_on_one_side_and_bad_lines_are_listed(tmp_path):
    source = tmp_path / "pairs.jsonl"
    write_pairs(source)
    with open(source, "a", encoding="utf-8") as fh:
        fh.write(pair("Q?", "same", "same"))                        # line 121: identical answers
        fh.write(json.dumps({"prompt": "Q?", "chosen": "a"}) + "\n")  # line 122: rejected missing
        fh.write("{not json\n")                                     # line 123
    result = prepare(options(tmp_path, source))
    assert [(b.line, b.reason) for b in result.bad_lines][:2] == [
        (121, '"chosen" and "rejected" are the same answer: the pair teaches nothing'),
        (122, '"rejected" is missing')]
    assert str(result.bad_lines[2]).startswith(f"{source}:123: not valid JSON")
    out = tmp_path / "data" / "prefs"
    sides = {}
    for split in ("train", "valid", "test"):
        for record in read_preference_file(out / f"{split}.jsonl"):
            sides.setdefault(record.messages[0]["content"], set()).add(split)
    assert len(sides) == 40 and all(len(s) == 1 for s in sides.values())
    assert {next(iter(s)) for s in sides.values()} == {"train", "valid", "test"}
    manifest = read_manifest(out)
    assert manifest["kind"] == "preference" and manifest["totals"]["pairs"] == 120
    assert sum(manifest["splits"][s]["pairs"] for s in ("train", "valid", "test")) == 120
    assert manifest["bad_line_count"] == 3
    # the clean lines are in the messages form whatever the input form was
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert set(first) == {"messages", "chosen", "rejected"} and first["messages"][0]["role"] == "user"


def test_tokens_are_counted_under_the_chat_template(tmp_path, demo_model):
    from mlx_lm.tokenizer_utils import load

    source = tmp_path / "one.jsonl"
    source.write_text(pair("Name a sorting module.", "bisect", "the weather") +
                      pair("Name a math module.", "math", "a bicycle"), encoding="utf-8")
    result = prepare(options(tmp_path, source, demo_model, valid_fraction=0.0, test_fraction=0.0))
    tok = load(demo_model)
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True)
               for q in ("Name a sorting module.", "Name a math module.")]
    chosen = [len(tok.encode(a + "<|im_end|>\n", add_special_tokens=False)) for a in ("bisect", "math")]
    found = result.pair_tokens["train"]
    assert found["pairs"] == 2 and found["prompt_tokens"] == sum(len(p) for p in prompts)
    assert found["chosen_tokens"] == sum(chosen)
    assert read_manifest(tmp_path / "data" / "prefs")["totals"]["tokens_counted"] == "chat template"


@pytest.mark.parametrize("line, kind, command", [
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
     "IFT conversations", "--kind ift"),
    ({"prompt": "Hi", "completion": "Hello"}, "IFT conversations", "--kind ift"),
    ({"text": "Plain training text."}, "CPT text", "--kind cpt"),
])
def test_other_kinds_of_data_are_refused_by_preference_prepare(tmp_path, line, kind, command):
    source = tmp_path / "data.jsonl"
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        prepare(options(tmp_path, source))
    message = str(err.value)
    assert message.startswith(f"{source}: line 1 is {kind}") and ", not preference pairs — " in message
    assert f"prepare it with: forgellm-tui prepare {command}" in message
    assert not (tmp_path / "data" / "prefs").exists()


def test_ift_prepare_refuses_a_file_of_preference_pairs(tmp_path):
    source = tmp_path / "ift" / "pairs.jsonl"
    write_pairs(source, prompts=3)
    with pytest.raises(DataError) as err:
        prepare(PrepareOptions("ift", tmp_path, tmp_path / "data" / "chat"))
    message = str(err.value)
    assert message.startswith(f"{source}: line 1 is preference pairs")
    assert f"forgellm-tui prepare --kind preference --input {source}" in message
    assert not (tmp_path / "data" / "chat").exists()
