"""Token counting and token-exact chunking over a Hugging Face ``tokenizers.Tokenizer``.

Fast path (``token_split``): for byte-level BPE tokenizers a text's count is the sum of its regex
pieces' counts, memoised per piece. Cutting a text between two pieces gives chunks whose pieces —
and so their tokens — are those of the context (a trailing whitespace run is recounted alone, as a
regex lookahead can merge it there). A probe text checks the fast path against the real ``encode``
when the engine is built; a mismatch, or a text holding an added/special token, uses ``encode``.

Other tokenizers (SentencePiece-style Metaspace …) use ``encode`` with offsets; chunk boundaries
then sit on token offsets and every chunk is re-encoded alone to check that it fits.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from forgellm_tui.core.tokens.split import MEMO_LIMIT, Memo, Splitter, bytes_to_unicode, piece_pattern

PROBE = (
    "The quick brown fox's 12345 jumps over 3.14 lazy dogs; I'LL do it, you'd've known.\n\n"
    "    indented  code_block(x=1) -> None  # comment\r\n\ttab\there  naïve café 你好 🤖 Ⅻ ½ ²\n"
    "!!!...---===    \n\n\n  trailing   "
)
#: pack a chunk by cutting inside the next piece when at least this many tokens would stay unused
SPLIT_ROOM = 4


class HFEngine:
    """Counts and chunks text with a ``tokenizers.Tokenizer`` (no special tokens added)."""

    def __init__(self, backend):
        self.backend = backend
        self.fast = False
        self._added = None
        self._ids_memo: dict[str, tuple[int, ...]] = {}
        found = piece_pattern(backend)
        if found is None:
            return
        try:
            import regex
        except ImportError:  # transformers depends on it, so it is normally there
            return
        pattern, self._nfc = found
        self._pieces = Splitter(pattern)
        self._memo = Memo(backend.model, bytes_to_unicode())
        added = [t.content for t in backend.get_added_tokens_decoder().values() if t.content]
        if added:
            self._added = regex.compile("|".join(regex.escape(a) for a in sorted(added, key=len, reverse=True)))
        self.fast = True
        try:
            self.fast = self._fast_count(PROBE) == self._encode_count(PROBE)
            ascii_probe = PROBE.encode("ascii", "ignore").decode()
            if self._fast_count(ascii_probe) != self._encode_count(ascii_probe):
                self._pieces.disable_ascii()
        except Exception:  # noqa: BLE001 - any surprise: use the plain path
            self.fast = False

    # ------------------------------------------------------------------ counting
    def _encode_count(self, text: str) -> int:
        return len(self.backend.encode(text, add_special_tokens=False).ids)

    def _prepare(self, text: str) -> str | None:
        """Text ready for the piece path, or None when ``encode`` must be used."""
        if not self.fast or (self._added is not None and self._added.search(text)):
            return None
        if self._nfc:
            import unicodedata

            if not unicodedata.is_normalized("NFC", text):
                text = unicodedata.normalize("NFC", text)
        return text

    def _fast_count(self, text: str) -> int:
        return sum(map(self._memo.__getitem__, self._pieces(text)))

    def count(self, text: str) -> int:
        ready = self._prepare(text)
        return self._encode_count(text) if ready is None else self._fast_count(ready)

    def count_many(self, texts: list[str]) -> list[int]:
        if self.fast:
            return [self.count(t) for t in texts]
        encs = self.backend.encode_batch_fast(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def ids(self, text: str) -> list[int]:
        """``encode(text, add_special_tokens=False).ids``; on the fast path the ids of each piece are
        memoised (BPE never merges across pieces, so the text's ids are its pieces' ids in order)."""
        ready = self._prepare(text)
        if ready is None:
            return self.backend.encode(text, add_special_tokens=False).ids
        memo = self._ids_memo
        out: list[int] = []
        for piece in self._pieces(ready):
            ids = memo.get(piece)
            if ids is None:
                ids = memo[piece] = self._memo.piece_ids(piece)
                if len(memo) > MEMO_LIMIT:
                    memo.clear()
            out.extend(ids)
        return out

    # ------------------------------------------------------------------ chunking
    def chunk(self, text: str, target: int) -> list[tuple[str, int]]:
        """Cut ``text`` into consecutive pieces of at most ``target`` tokens each.

        ``"".join(chunk texts) == text``; each count is what ``encode(chunk)`` gives. Only the last
        chunk (and pieces around a single over-long token run) may be shorter than ``target``.
        """
        if target < 1:
            raise ValueError("target must be >= 1")
        if not text:
            return []
        ready = self._prepare(text)
        if ready is not None and ready == text:
            pieces = self._pieces(text)
            if sum(map(len, pieces)) == len(text):
                return self._chunk_pieces(pieces, target)
        return self._chunk_offsets(text, target)

    def _chunk_pieces(self, pieces: list[str], target: int) -> list[tuple[str, int]]:
        """Greedy packing of regex pieces; a piece that would leave >= SPLIT_ROOM tokens unused is
        cut on its own token offsets (long whitespace runs in code, long words)."""
        cum = list(accumulate(map(self._memo.__getitem__, pieces)))
        out: list[tuple[str, int]] = []
        n, i, base, carry = len(pieces), 0, 0, ""

        def est(j: int) -> int:  # additive count of carry + pieces[i:j]
            return (cum[j - 1] if j > 0 else 0) - base

        while i < n or carry:
            j = bisect_right(cum, base + target, lo=i)
            text = carry + "".join(pieces[i:j])
            count = est(j)
            if carry:  # a carried part of a piece is counted alone: recount the chunk
                count = self._fast_count(text)
                while count > target and j > i:
                    j -= 1
                    text = carry + "".join(pieces[i:j])
                    count = self._fast_count(text)
            else:
                # A lookahead (``\s+(?!\S)``) can split a whitespace run in context that matches as one
                # piece at the end of a chunk: recount that whitespace tail on its own.
                while i < j < n and pieces[j - 1].isspace():
                    k = j - 1
                    while k > i and pieces[k - 1].isspace():
                        k -= 1
                    count = est(k) + self._fast_count("".join(pieces[k:j]))
                    if count <= target:
                        break
                    j -= 1
                    count = est(j)
                text = "".join(pieces[i:j])
            if carry and count > target:  # the carried part of a huge piece alone is too long
                out.extend(self._chunk_offsets(carry, target))
                carry, base = "", (cum[i - 1] if i > 0 else 0)
                continue
            if j < n and target - count >= SPLIT_ROOM and self._memo[pieces[j]] > 1:
                split = self._split_piece(text, pieces[j], target)
                if split is not None:
                    head, count, tail = split
                    out.append((text + head, count))
                    carry, i = tail, j + 1
                    base = cum[j] - self._fast_count(tail)
                    continue
            if not text:  # a single piece longer than target and nothing to split it against
                out.extend(self._chunk_offsets(pieces[j], target))
                i, base = j + 1, cum[j]
                continue
            out.append((text, count))
            carry, i, base = "", j, cum[j - 1]
        return out

    def _split_piece(self, text: str, piece: str, target: int) -> tuple[str, int, str] | None:
        """Cut ``piece`` so that ``text + head`` fills the chunk; returns (head, count, tail)."""
        offs = self.backend.encode(piece, add_special_tokens=False).offsets
        room = target - self._fast_count(text) if text else target
        for h in range(min(room, len(offs) - 1), 0, -1):
            pos = offs[h][0]
            if not 0 < pos < len(piece) or offs[h - 1][1] > pos:
                continue
            count = self._fast_count(text + piece[:pos])
            if count <= target:
                return piece[:pos], count, piece[pos:]
        return None

    def _chunk_offsets(self, text: str, target: int) -> list[tuple[str, int]]:
        """Cut on token offsets; re-encode each chunk alone and move the cut back until it fits."""
        offs = self.backend.encode(text, add_special_tokens=False).offsets
        n, i, pos = len(offs), 0, 0
        out: list[tuple[str, int]] = []
        while pos < len(text):
            j = min(i + target, n)
            while True:
                # never cut inside a character shared by two tokens (multi-byte UTF-8 split by BPE)
                while i + 1 < j < n and offs[j - 1][1] > offs[j][0]:
                    j -= 1
                end = offs[j][0] if j < n else len(text)
                if end <= pos:  # no usable boundary: take the rest of this token run
                    j = i + 1
                    while j < n and offs[j][0] <= pos:
                        j += 1
                    end = offs[j][0] if j < n else len(text)
                count = self._encode_count(text[pos:end])
                if count <= target or j <= i + 1:
                    break
                j -= max(1, count - target)
            out.append((text[pos:end], count))
            pos, i = end, j
        return out


class TiktokenEngine:
    def __init__(self, encoding):
        self.encoding = encoding

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_many(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.encoding.encode_ordinary_batch(list(texts))]


class CallableEngine:
    """Any object with ``encode(text)`` (a tokenizer we do not know more about)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def count(self, text: str) -> int:
        try:
            return len(self.tokenizer.encode(text, add_special_tokens=False))
        except TypeError:
            return len(self.tokenizer.encode(text))

    def count_many(self, texts: list[str]) -> list[int]:
        return [self.count(t) for t in texts]


class WordEngine:
    """The last resort: 1.4 tokens per whitespace-separated word."""

    FACTOR = 1.4

    def count(self, text: str) -> int:
        return round(len(text.split()) * self.FACTOR)

    def count_many(self, texts: list[str]) -> list[int]:
        return [self.count(t) for t in texts]
