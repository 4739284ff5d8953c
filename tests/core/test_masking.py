"""The IFT loss mask from the chat template: every assistant turn counts (content and end-of-turn token),
system and user turns do not; tested on the real templates in tests/fixtures/tokenizers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from forgellm_tui.core.chat.prompt_format import JinjaTemplate
from forgellm_tui.core.tokens import tokenize

TOKENIZERS = Path(__file__).parents[1] / "fixtures" / "tokenizers"
REAL = ["qwen2.5-coder-3b-instruct", "mistral-7b-instruct-v0.3", "phi-3-mini-128k-instruct"]
TEMPLATE_ONLY = ["llama-3.2-3b-instruct", "gemma-2b-it", "gemma-3-it", "deepseek-r1-distill-qwen-32b"]
#: templates that refuse a system message or move it to the last user turn
NO_SYSTEM = {"gemma-2b-it", "mistral-7b-instruct-v0.3"}
USERS = ["What is a bucket?", "And a shard?", "Thanks, last one: a pad?"]
ANSWERS = ["Rows sorted by length.", "One rank's share of a batch.", "Zeros after the row's end."]
SYSTEM = "Answer like the manual."


def chat(system: bool = True) -> list[dict]:
    turns = [{"role": "system", "content": SYSTEM}] if system else []
    for user, answer in zip(USERS, ANSWERS):
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return turns


class StandIn:
    """A tokenizer for template-only folders: the template's own rendering, one id per character."""

    def __init__(self, folder: Path | None = None, template: str = ""):
        self.render = JinjaTemplate.from_folder(folder) if folder else JinjaTemplate(template)

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, return_dict=False):
        return [ord(c) for c in self.render(messages, add_generation_prompt)]

    def decode(self, ids) -> str:
        return "".join(chr(i) for i in ids)


def load(name: str):
    if name in TEMPLATE_ONLY:
        return StandIn(TOKENIZERS / name)
    from mlx_lm.tokenizer_utils import load as load_tokenizer

    return load_tokenizer(TOKENIZERS / name)


def cfg(train_on: str) -> SimpleNamespace:
    return SimpleNamespace(chat_feature="messages", effective_train_on=train_on)


def spans(data) -> list[tuple[int, int]]:
    """Maximal runs of loss-bearing tokens in row 0."""
    mask = data.row_mask(0, int(data.lengths[0]))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


@pytest.mark.parametrize("name", REAL + TEMPLATE_ONLY)
def test_the_mask_covers_exactly_every_assistant_turn(name):
    tok = load(name)
    messages = chat(system=name not in NO_SYSTEM)
    data = tokenize([{"messages": messages}], "chat", tok, cfg("assistant"))
    ids = data.flat.tolist()
    found = spans(data)
    assert data.unstable == 0 and len(found) == len(ANSWERS)
    for (start, end), answer in zip(found, ANSWERS):
        text = tok.decode(ids[start:end])
        assert text.strip().startswith(answer), (name, text)
        tail = text.strip()[len(answer):]
        assert tail.strip(), (name, text)  # the end-of-turn token is trained too
        assert not any(other in tail for other in USERS + ANSWERS + [SYSTEM]), (name, text)
    outside = tok.decode([t for t, m in zip(ids, data.row_mask(0, len(ids))) if not m])
    assert all(user in outside for user in USERS) and not any(answer in outside for answer in ANSWERS)
    if SYSTEM in tok.decode(ids):
        assert SYSTEM in outside


@pytest.mark.parametrize("name", REAL + TEMPLATE_ONLY)
def test_last_is_mlx_lm_and_trains_a_third_of_three_answers(name):
    tok = load(name)
    row = {"messages": chat(system=name not in NO_SYSTEM)}
    every = tokenize([row], "chat", tok, cfg("assistant"))
    last = tokenize([row], "chat", tok, cfg("last"))
    everything = tokenize([row], "chat", tok, cfg("all"))
    assert spans(every)[-1] == spans(last)[0] and len(spans(last)) == 1  # the final turn as mlx-lm masks it
    assert int(everything.supervised()[0]) == everything.tokens - 1
    assert int(every.supervised()[0]) > 2.5 * int(last.supervised()[0]) * 0.8


#: Qwen3's rule: reasoning is kept only in the answers after the last user turn, earlier ones lose it
DROPS_REASONING = (
    "{% for m in messages %}{% set c = m['content'] %}"
    "{% if m['role'] == 'assistant' and loop.index0 < messages|length - 1 and '</think>' in c %}"
    "{% set c = c.split('</think>')[-1] %}{% endif %}"
    "<|{{ m['role'] }}|>{{ c }}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")


def test_a_template_that_rewrites_earlier_turns_falls_back_to_the_last_turn():
    """Rendered up to the first answer, that answer keeps its reasoning; in the whole conversation it has
    lost it. The spans would be wrong, so the conversation trains on its last turn, and is counted."""
    tok = StandIn(template=DROPS_REASONING)
    thinking = [dict(m, content="<think>hmm</think>" + m["content"]) if m["role"] == "assistant" else m
                for m in chat()]
    rows = [{"messages": thinking}, {"messages": chat()}, {"messages": thinking[:3]}]
    data = tokenize(rows, "chat", tok, cfg("assistant"))
    last = tokenize(rows, "chat", tok, cfg("last"))
    assert data.unstable == 1  # the one-answer chat and the one without reasoning are prefix-stable
    assert data.supervised()[0] == last.supervised()[0] and data.supervised()[1] > 2 * last.supervised()[1]
    assert data.supervised()[2] == last.supervised()[2]


def test_the_mask_travels_through_batches_and_truncation():
    from forgellm_tui.core.training.data import loss_tokens, make_batch

    tok = load("qwen2.5-coder-3b-instruct")
    data = tokenize([{"messages": chat()}, {"messages": chat()[:3]}], "chat", tok, cfg("assistant"))
    first_answer_end = spans(data)[0][1]
    batch, targets = make_batch(data, np.array([0, 1]), first_answer_end)
    assert targets.shape == (2, batch.shape[1] - 1)
    # cut right after the first answer: only that answer is left in row 0; row 1 is a one-answer chat
    assert int(targets[0].sum()) == first_answer_end - spans(data)[0][0]
    assert loss_tokens(data, first_answer_end) == int(targets.sum())
    kept = batch[0, 1:][targets[0]].tolist()
    assert tok.decode(kept).startswith(ANSWERS[0])


def write_three_turn_chats(ws: Path, rows: int = 8) -> str:
    import json

    folder = ws / "data" / "ift-3turn"
    folder.mkdir(parents=True)
    for split, count in (("train", rows), ("valid", 2)):
        lines = [json.dumps({"messages": [dict(m, content=f"{m['content']} ({split} {i})") for m in chat()]})
                 for i in range(count)]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


def test_an_ift_run_trains_on_all_three_answers(workspace):
    """One step over all 8 three-turn chats: the run's trained tokens are every answer's, three times what
    mlx-lm's last-turn masking gives, and the log says how many tokens the loss sees."""
    from mlx_lm.utils import load_tokenizer
    from train_helpers import MODEL, Recorder, make_cfg

    from forgellm_tui.core.training import train
    from forgellm_tui.core.training.data import read_split

    cfg = make_cfg(workspace, name="three-turns", training_type="ift", data=write_three_turn_chats(workspace),
                   batch_size=8, max_iterations=1, steps_per_report=1, steps_per_eval=1, max_seq_length=512)
    rec = Recorder()
    assert train(cfg, rec).status == "finished"
    rows, fmt = read_split(workspace / "data/ift-3turn/train.jsonl", cfg)
    tok = load_tokenizer(workspace / MODEL)
    every = int(tokenize(rows, fmt, tok, cfg).supervised().sum())
    last = int(tokenize(rows, fmt, tok, SimpleNamespace(chat_feature="messages", effective_train_on="last"))
               .supervised().sum())
    trained = rec.by_type["Metrics"][-1].trained_tokens
    assert trained == every and 2.5 < every / last < 3.5
    logs = [e.message for e in rec.by_type["LogLine"]]
    assert any(f"the loss sees {every:,} of" in m and "train_on: assistant" in m for m in logs)


def test_prepared_ift_data_stores_the_mask_training_uses(workspace):
    """prepare stores the rendered conversations and their mask: a run with train_on: assistant uses them
    as they are (no template rendered again), identical to tokenizing; another train_on tokenizes."""
    from forgellm_tui.cli import main
    from forgellm_tui.core.config.model import from_dict
    from forgellm_tui.core.tokens.store import load_or_tokenize
    from forgellm_tui.core.training.data import read_split
    from mlx_lm.utils import load_tokenizer
    from train_helpers import MODEL

    chats = workspace / "three.jsonl"
    chats.write_text("".join(__import__("json").dumps({"messages": [dict(m, content=f"{m['content']} {i}")
                                                                     for m in chat()]}) + "\n" for i in range(24)))
    assert main(["--workspace", str(workspace), "prepare", "--kind", "ift", "--name", "stored-chat", "--input",
                 str(chats), "--model", "forge-tiny"]) == 0
    folder = workspace / "data" / "stored-chat"
    assert (folder / "train.mask.bin").is_file()
    tokenizer = load_tokenizer(workspace / MODEL)
    for train_on, expected in (("assistant", "using the token ids stored by prepare"),
                               ("last", "tokenizing")):
        cfg = from_dict({"model": MODEL, "data": str(folder), "training_type": "ift", "train_on": train_on},
                        workspace=workspace)
        train_rows, fmt = read_split(folder / "train.jsonl", cfg)
        valid_rows, _ = read_split(folder / "valid.jsonl", cfg, fmt)
        notes = []
        train, valid = load_or_tokenize(folder, workspace / MODEL, train_rows, valid_rows, fmt, tokenizer, cfg,
                                        log=notes.append)
        assert notes[0].startswith(expected), notes
        for data, rows in ((train, train_rows), (valid, valid_rows)):
            fresh = tokenize(rows, fmt, tokenizer, cfg)
            assert np.array_equal(data.flat, fresh.flat) and np.array_equal(data.offsets, fresh.offsets)
            assert all(np.array_equal(data.row_mask(i, n), fresh.row_mask(i, n))
                       for i, n in enumerate(data.lengths.tolist()))
            assert data.supervised().sum() == fresh.supervised().sum()


def test_a_run_warns_per_file_about_conversations_trained_on_their_last_turn_only():
    from forgellm_tui.core.training.data import _supervision_notes

    tok = StandIn(template=DROPS_REASONING)
    thinking = [dict(m, content="<think>hmm</think>" + m["content"]) if m["role"] == "assistant" else m
                for m in chat()]
    train = tokenize([{"messages": thinking}, {"messages": chat()}], "chat", tok, cfg("assistant"))
    valid = tokenize([{"messages": chat()}], "chat", tok, cfg("assistant"))
    run_cfg = SimpleNamespace(is_ift=True, max_seq_length=4096, effective_train_on="assistant")
    notes = _supervision_notes(run_cfg, Path("data/chats"), train, valid)
    warnings = [line for level, line in notes if level == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith(str(Path("data/chats/train.jsonl")) + ": 1 of 2 ")
    assert "last assistant turn" in warnings[0]
    seen = [line for level, line in notes if level == "info"]
    assert seen[0].startswith(f"train.jsonl: the loss sees {int(train.supervised().sum()):,} of {train.tokens:,}")
