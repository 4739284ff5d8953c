"""The demo's preference set: questions about the docs with the right answer and a wrong sentence of the
same docs, prepared to data/demo-preference (its determinism is part of test_demo's whole-dataset digest)."""

from __future__ import annotations

import json
import re

from forgellm_tui.core.datasets import check_preference, read_manifest, read_preference_file
from forgellm_tui.core.demo.corpus import category_of
from forgellm_tui.core.demo.preference import PREFERENCE_FILE


def test_pairs_are_right_answers_and_wrong_sentences_of_the_same_docs(demo_dir):
    dataset = demo_dir / "dataset"
    lines = [json.loads(line) for line in (dataset / PREFERENCE_FILE).read_text(encoding="utf-8").splitlines()]
    assert 600 <= len(lines) <= 1000
    answers = {}
    for line in (dataset / "ift" / "stdlib_qa.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        answers[messages[0]["content"]] = messages[-1]["content"]
    for line in lines:
        record, why = check_preference(line)
        assert why is None, (line, why)
        assert line["chosen"] == answers[line["prompt"]]  # the docs' own answer to the question
        asked = re.match(r"What is the (\w+) module for\?|What (?:is|does) (\w+)\.", line["prompt"])
        module = asked.group(1) or asked.group(2)
        doc = (dataset / category_of(module) / f"{module}.txt").read_text(encoding="utf-8")
        assert line["rejected"] != line["chosen"] and line["rejected"].split()[0] in doc
        assert " ".join(line["rejected"].split()[:4]) in " ".join(doc.replace("|", " ").split())


def test_the_demo_prepares_them_split_by_prompt_with_template_token_counts(demo_dir):
    out = demo_dir / "data" / "demo-preference"
    manifest = read_manifest(out)
    assert manifest["kind"] == "preference" and manifest["totals"]["pairs"] >= 600
    assert manifest["totals"]["tokens_counted"] == "chat template" and not manifest["bad_line_count"]
    prompts = {}
    for split in ("train", "valid", "test"):
        records = read_preference_file(out / f"{split}.jsonl")
        assert len(records) == manifest["splits"][split]["pairs"] > 0
        for record in records:
            prompts.setdefault(record.messages[0]["content"], set()).add(split)
    assert all(len(sides) == 1 for sides in prompts.values())
    # CPT leaves the preference folder out instead of listing its JSONL as a skipped file
    assert not [s for s in read_manifest(demo_dir / "data" / "cpt-demo")["skipped"] if "preference" in str(s)]
