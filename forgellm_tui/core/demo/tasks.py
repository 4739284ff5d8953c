"""The demo's multiple-choice task: which of four continuations really follows a sentence of the docs.

Built from the corpus (the documentation text of the domain categories), deterministically: a prose
line's first words are the query, its next words the right choice, and as many words drawn at random
from the docs' vocabulary (every distinct word alike, so mostly rare ones) the wrong ones. Each wrong
choice has as many tokens of the demo model and as many characters as the right one, so a model that has
not learnt the docs (the random one) is at chance (25%) on both ``acc`` and the length-normalised
``acc_norm`` (with choices of unequal length, ``acc_norm`` favours the longer ones whatever the model
learnt), and one that has learnt which words they use does better, which
``forgellm-tui eval RUN --tasks tasks/doc-continuations.jsonl`` shows.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from forgellm_tui.core import fsio

TASK_FILE = "tasks/doc-continuations.jsonl"
ITEMS = 80
QUERY_WORDS = 8
CHOICE_WORDS = 5
CHOICES = 4
DRAWS = 3000
_PROSE = re.compile(r"^[A-Za-z][A-Za-z ,.'()-]+$")


def _prose_lines(folder: Path) -> list[list[str]]:
    """Word lists of prose lines long enough for a query and a choice (each line once)."""
    lines: dict[str, None] = {}
    for path in sorted((folder / "dataset").glob("*/**/*.txt")):
        if path.relative_to(folder / "dataset").parts[0] in ("general", "ift"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            line = " ".join(line.split())
            if _PROSE.match(line) and len(line.split()) >= QUERY_WORDS + CHOICE_WORDS:
                lines[line] = None
    return [line.split() for line in lines]


def _token_counter(model_dir: Path):
    """Tokens of a text for the demo model (its tokenizer.json; no model weights are read)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def build_task_file(folder: str | Path, model_dir: str | Path, seed: int = 7, progress=lambda _: None) -> Path:
    """Write ``tasks/doc-continuations.jsonl`` in the demo workspace (kept when already there); choices
    are sized in tokens of the demo model in ``model_dir``."""
    folder = Path(folder)
    target = folder / TASK_FILE
    if target.is_file():
        progress("tasks: already built")
        return target
    rng = random.Random(seed)
    lines = _prose_lines(folder)
    rng.shuffle(lines)
    vocabulary = sorted({word for words in lines for word in words})
    count = _token_counter(model_dir)
    out = []
    for words in lines:
        if len(out) == ITEMS:
            break
        right = " " + " ".join(words[QUERY_WORDS:QUERY_WORDS + CHOICE_WORDS])
        wrong: list[str] = []
        for _ in range(DRAWS):  # a choice whose token count is rarely drawn: that line is left out
            drawn = " " + " ".join(rng.choice(vocabulary) for _ in range(CHOICE_WORDS))
            if len(drawn) == len(right) and count(drawn) == count(right) and drawn != right and drawn not in wrong:
                wrong.append(drawn)
            if len(wrong) == CHOICES - 1:
                break
        else:
            continue
        gold = rng.randrange(CHOICES)
        out.append(json.dumps({"id": f"doc-{len(out):03d}", "query": " ".join(words[:QUERY_WORDS]),
                               "choices": wrong[:gold] + [right] + wrong[gold:], "gold": gold}, ensure_ascii=False))
    fsio.atomic_write_text(target, "\n".join(out) + "\n")
    progress(f"tasks: {len(out)} multiple-choice items in {TASK_FILE}")
    return target
