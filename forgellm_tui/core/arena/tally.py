"""The tally per pair of targets: how often each won, and the ties.

A pair is unordered (A on the left against B on the right counts with B on the left against A); when
both sides were the same target, wins are counted by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from forgellm_tui.core.arena.records import ArenaRecord, target_id


@dataclass
class PairTally:
    """Votes between ``first`` and ``second`` (target descriptions; ``first`` sorts first by folder)."""

    first: dict
    second: dict
    first_wins: int = 0
    second_wins: int = 0
    ties: int = 0

    @property
    def votes(self) -> int:
        return self.first_wins + self.second_wins + self.ties

    @property
    def same_target(self) -> bool:
        return target_id(self.first) == target_id(self.second)

    def line(self) -> str:
        """``forge-tiny 2 · cpt/run1 1 · tie 0`` (``left``/``right`` when both are the same target)."""
        a, b = _name(self.first), _name(self.second)
        if self.same_target:
            a, b = f"{a} (left)", f"{b} (right)"
        return f"{a} {self.first_wins} · {b} {self.second_wins} · tie {self.ties}"


def pair_key(record: ArenaRecord) -> tuple[str, str]:
    return tuple(sorted((target_id(record.left), target_id(record.right))))  # type: ignore[return-value]


def tally(records: list[ArenaRecord]) -> list[PairTally]:
    """One PairTally per pair that has votes, in the order the pairs first met."""
    pairs: dict[tuple[str, str], PairTally] = {}
    for record in records:
        key = pair_key(record)
        swapped = target_id(record.left) != key[0]
        if key not in pairs:
            first, second = (record.right, record.left) if swapped else (record.left, record.right)
            pairs[key] = PairTally(first, second)
        pair = pairs[key]
        if record.vote == "tie":
            pair.ties += 1
        elif (record.vote == "left") != swapped:
            pair.first_wins += 1
        elif record.vote in ("left", "right"):
            pair.second_wins += 1
    return list(pairs.values())


def tally_of(records: list[ArenaRecord], left: dict, right: dict) -> PairTally | None:
    """The tally of the pair ``left``/``right`` (None before its first vote)."""
    key = tuple(sorted((target_id(left), target_id(right))))
    return next((p for p in tally(records) if (target_id(p.first), target_id(p.second)) == key), None)


def _name(target: dict) -> str:
    return str(target.get("name") or target.get("path") or "?")
