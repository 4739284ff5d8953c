"""The demo's multiple-choice task: which of four continuations really follows a sentence of the docs.

Built from the corpus (the documentation text of the domain categories), deterministically: a prose
line's first words are the query, its next words the right choice, and the same words in three other
orders the wrong ones. Every choice has the same words, so only a model that has learnt how the docs'
words follow each other can tell the real one: a random model is at chance (25%), a trained one does
better, which ``forgellm-tui eval RUN --tasks tasks/doc-continuations.jsonl`` shows.
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


def build_task_file(folder: str | Path, seed: int = 7, progress=lambda _: None) -> Path:
    """Write ``tasks/doc-continuations.jsonl`` in the demo workspace (kept when already there)."""
    folder = Path(folder)
    target = folder / TASK_FILE
    if target.is_file():
        progress("tasks: already built")
        return target
    rng = random.Random(seed)
    lines = _prose_lines(folder)
    rng.shuffle(lines)
    out = []
    for words in lines:
        if len(out) == ITEMS:
            break
        choice = words[QUERY_WORDS:QUERY_WORDS + CHOICE_WORDS]
        right = " " + " ".join(choice)
        wrong: list[str] = []
        for _ in range(50):  # a few word lists have too few distinct orders: those lines are left out
            shuffled = " " + " ".join(rng.sample(choice, len(choice)))
            if shuffled != right and shuffled not in wrong:
                wrong.append(shuffled)
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
