"""The pre-tokenizer's split, reproduced in Python, for byte-level BPE tokenizers.

GPT-2, Qwen, Llama 3 and the demo model split text with a regex before BPE, and BPE never merges
across those pieces: a text's token count is the sum of its pieces' counts, and a piece's count can
be memoised (``Memo``). ``Splitter`` runs the tokenizer's own regex with the ``regex`` module
(``\\p{L}`` support), or — for text that is ASCII but for a few characters — its faster
standard-library ``re`` twin, with each non-ASCII character replaced by an ASCII stand-in of the
same class for the split and put back afterwards.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from itertools import accumulate

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
MEMO_LIMIT = 500_000
#: the stand-in path is used while non-ASCII characters are at most 1/MAX_NON_ASCII of the text
MAX_NON_ASCII = 50


def bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character map of byte-level BPE (as in GPT-2)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _state(component) -> dict | None:
    if component is None:
        return None
    try:
        return json.loads(component.__getstate__())
    except Exception:  # noqa: BLE001 - unknown component: no fast path
        return {"type": "?"}


def piece_pattern(backend) -> tuple[str, bool] | None:
    """``(regex, nfc)`` when the tokenizer splits text with a regex and then byte-level BPE."""
    if type(getattr(backend, "model", None)).__name__ != "BPE":
        return None
    norm = _state(backend.normalizer)
    if norm is not None and norm.get("type") != "NFC":
        return None
    pre = _state(backend.pre_tokenizer)
    if not pre:
        return None
    if pre.get("type") == "ByteLevel":
        ok = pre.get("use_regex", True) and not pre.get("add_prefix_space", False)
        return (GPT2_PATTERN, norm is not None) if ok else None
    if pre.get("type") == "Sequence":
        parts = pre.get("pretokenizers") or []
        if (len(parts) == 2 and parts[0].get("type") == "Split" and parts[1].get("type") == "ByteLevel"
                and "Regex" in (parts[0].get("pattern") or {}) and parts[0].get("behavior") == "Isolated"
                and not parts[0].get("invert") and not parts[1].get("use_regex", True)
                and not parts[1].get("add_prefix_space", False)):
            return parts[0]["pattern"]["Regex"], norm is not None
    return None


def ascii_pattern(pattern: str):
    """The same split for pure-ASCII text with the (faster) standard ``re``: ``\\p{L}`` -> ``A-Za-z``,
    ``\\p{N}`` -> ``0-9``. None when the pattern uses anything else Unicode-specific."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        if pattern.startswith(("\\p{L}", "\\p{N}"), i):
            chars = "A-Za-z" if pattern[i + 3] == "L" else "0-9"
            out.append(chars if in_class else f"[{chars}]")
            i += 5
            continue
        c = pattern[i]
        if c == "\\":
            if pattern[i + 1:i + 2] in ("p", "P", "X", "N", "w", "W", "d", "D", "b", "B"):  # Unicode-aware
                return None
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error:
        return None


def stand_ins(pattern: str) -> dict[str, str] | None:
    """An ASCII character per class (letter, number, space, other) that the pattern never names."""
    picks = {}
    for cls, choices in (("L", "qxzjkQXZJK"), ("N", "0123456789"), ("S", "\x0b\x0c"), ("O", "#$%&*+<=>@^`|~")):
        free = [c for c in choices if c not in pattern and repr(c)[1:-1] not in pattern]
        if not free:
            return None
        picks[cls] = free[0]
    return picks


class Memo(dict):
    """piece -> token count; BPE runs only for pieces not seen before."""

    def __init__(self, model, byte_map):
        super().__init__()
        self._model = model
        self._map = byte_map

    def __missing__(self, piece: str) -> int:
        n = len(self._model.tokenize("".join(map(self._map.__getitem__, piece.encode("utf-8")))))
        if len(self) >= MEMO_LIMIT:
            self.clear()
        self[piece] = n
        return n

    def piece_ids(self, piece: str) -> tuple[int, ...]:
        """The token ids of one piece (BPE on its byte-mapped text, as the tokenizer does)."""
        return tuple(t.id for t in self._model.tokenize("".join(map(self._map.__getitem__, piece.encode("utf-8")))))




class Splitter:
    """Splits text into pre-tokenizer pieces exactly as the tokenizer's regex does."""

    def __init__(self, pattern: str):
        import regex

        self._unicode = regex.compile(pattern)
        self._ascii = ascii_pattern(pattern)
        self._picks = stand_ins(pattern)
        self._classes = [(regex.compile(r"\p{L}"), "L"), (regex.compile(r"\p{N}"), "N"), (regex.compile(r"\s"), "S")]
        self._stand_in: dict[str, str] = {}
        self._icase = "(?i" in pattern

    def disable_ascii(self) -> None:
        self._ascii = None

    def unicode_pieces(self, text: str) -> list[str]:
        return self._unicode.findall(text)

    def __call__(self, text: str) -> list[str]:
        """The pre-tokenizer's split. ASCII text takes the faster ``re`` twin of the pattern; so does
        text with a few non-ASCII characters, each replaced by an ASCII stand-in of the same class
        (letter / number / space / other) for the split and put back in the pieces afterwards."""
        if self._ascii is None:
            return self._unicode.findall(text)
        if text.isascii():
            return self._ascii.findall(text)
        runs = _NON_ASCII.findall(text)
        if self._picks is None or sum(map(len, runs)) * MAX_NON_ASCII > len(text):
            return self._unicode.findall(text)
        parts, spots, pos = [], [], 0
        for m in _NON_ASCII.finditer(text):
            start, end = m.span()
            stand_in = "".join(map(self._stand_in_for, m.group()))
            if len(stand_in) != end - start:  # a character that case-folds to ASCII under (?i)
                return self._unicode.findall(text)
            parts.append(text[pos:start])
            parts.append(stand_in)
            spots.append((start, end))
            pos = end
        parts.append(text[pos:])
        pieces = self._ascii.findall("".join(parts))
        ends = list(accumulate(map(len, pieces)))
        touched = set()
        for start, end in spots:
            touched.update(range(bisect_right(ends, start), bisect_right(ends, end - 1) + 1))
        for k in touched:
            pieces[k] = text[ends[k - 1] if k else 0:ends[k]]
        return pieces

    def _stand_in_for(self, ch: str) -> str:
        rep = self._stand_in.get(ch)
        if rep is None:
            if self._icase and ch.casefold().isascii():
                rep = ""  # e.g. "ſ" matches "'s" case-insensitively: not replaceable
            else:
                rep = self._picks[next((c for rx, c in self._classes if rx.match(ch)), "O")]
            self._stand_in[ch] = rep
        return rep
