"""The demo's preference set (DPO, ORPO): questions about the docs, the right answer and a plausible wrong one.

Built from files already in the demo's ``dataset/``, deterministically: each question of the IFT set
(``What does json.dumps do?``) keeps its answer (the first paragraph of that docstring) as ``chosen``;
``rejected`` is another sentence of the same module's documentation (same topic, same words, but not
about the thing asked, so it does not name it). Written as ``{"prompt", "chosen", "rejected"}`` lines to
``dataset/preference/stdlib_prefs.jsonl``; a file already there is kept.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.demo.corpus import category_of

PREFERENCE_FILE = "preference/stdlib_prefs.jsonl"
#: 800 rather than 400: a 120-step DPO run (batch 8, LoRA) from the random base model reached a validation reward
#: accuracy of 0.69-0.71 on 800 pairs, 0.60 on 400 (both split 90/10/5 by prompt)
PAIRS = 800
MAX_CHARS = 200  # short answers: a pair fits the demo's 128-token rows without cutting either answer
MIN_WORDS = 6
_QUESTIONS = (re.compile(r"^What is the (\w+) module for\?$"), re.compile(r"^What (?:is|does) (\w+)\.(\w+)(?: do)?\?$"))
_PROSE = re.compile(r"^[A-Z][A-Za-z0-9 ,.;:'()_-]+\.$")


def _subject(question: str) -> tuple[str, str] | None:
    """``(module, attribute or "")`` a demo question asks about."""
    for pattern in _QUESTIONS:
        found = pattern.match(question)
        if found:
            return found.group(1), found.group(2) if pattern.groups > 1 else ""
    return None


def _sentences(doc: Path) -> list[str]:
    """Prose sentences of a module's documentation, each once, in the order they appear."""
    seen: dict[str, None] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        line = " ".join(line.replace("|", " ").split())
        if _PROSE.match(line) and MIN_WORDS <= len(line.split()) and len(line) <= MAX_CHARS:
            seen[line] = None
    return list(seen)


def _pairs(dataset: Path) -> list[dict]:
    qa = [json.loads(line)["messages"] for line in (dataset / "ift" / "stdlib_qa.jsonl").read_text().splitlines()]
    docs: dict[str, list[str]] = {}
    rng = random.Random(15)
    out = []
    for messages in qa:
        question, answer = messages[0]["content"], messages[-1]["content"]
        subject = _subject(question)
        if subject is None or len(answer) > MAX_CHARS or len(answer.split()) < 4:
            continue
        module, attr = subject
        if module not in docs:
            doc = dataset / category_of(module) / (module + ".txt")
            docs[module] = _sentences(doc) if doc.is_file() else []
        wrong = [s for s in docs[module] if s not in answer and answer not in s and (not attr or attr not in s)]
        if wrong:
            out.append({"prompt": question, "chosen": answer, "rejected": rng.choice(wrong)})
    return out[:PAIRS]


def build_preference_set(folder: str | Path, progress=lambda _: None) -> int:
    """Write ``dataset/preference/stdlib_prefs.jsonl`` (kept when already there); returns its pairs."""
    target = Path(folder) / "dataset" / PREFERENCE_FILE
    if target.is_file():
        progress("preference: already built")
        return sum(1 for line in target.read_text(encoding="utf-8").splitlines() if line.strip())
    pairs = _pairs(Path(folder) / "dataset")
    fsio.atomic_write_text(target, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    progress(f"preference: {len(pairs)} question/right/wrong answer pairs in dataset/{PREFERENCE_FILE}")
    return len(pairs)
