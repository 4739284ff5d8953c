"""Arena: two models answer one prompt, a person votes left, right or tie.

Typical use::

    record = ArenaRecord(left=model_info(ref_a), right=model_info(ref_b), prompt="Hi",
                         replies={"left": "...", "right": "..."}, system_prompt="", sampling=sampling)
    append_vote(workspace, record, "left")            # appended to WORKSPACE/arena.jsonl
    for pair in tally(load_votes(workspace)):
        print(pair.line())                            # forge-tiny 2 · cpt/run1 1 · tie 0
    export_rounds([record], workspace / "chats" / "arena-20260101-120000")   # .md and .json

- ``records.py``: a round as a record, appending votes to ``arena.jsonl`` and reading them back
- ``tally.py``: wins and ties per pair of targets
- ``export.py``: rounds as Markdown and JSON, like a chat export

Generation itself is ``core.chat``'s: one ``ChatSession`` per side over a ``ModelCache`` that holds both models.
"""

from __future__ import annotations

from forgellm_tui.core.arena.export import export_rounds, to_json, to_markdown
from forgellm_tui.core.arena.records import (FILE_NAME, SIDES, VOTES, ArenaRecord, append_vote, arena_file,
                                             load_votes, target_id)
from forgellm_tui.core.arena.tally import PairTally, tally, tally_of

__all__ = [
    "FILE_NAME", "SIDES", "VOTES", "ArenaRecord", "PairTally", "append_vote", "arena_file", "export_rounds",
    "load_votes", "tally", "tally_of", "target_id", "to_json", "to_markdown",
]
