"""Text statistics, tokens counted by the first of these that is available:

1. the loaded model's tokenizer (an object passed in: mlx-lm ``TokenizerWrapper``, a transformers
   tokenizer, a ``tokenizers.Tokenizer``);
2. the Hugging Face tokenizer of a model folder (``tokenizer.json`` / ``tokenizer_config.json``);
3. tiktoken ``cl100k_base`` — only when its encoding file is already in tiktoken's cache (tiktoken
   downloads with no timeout, so we never let it try);
4. the word estimate: 1.4 × words.

Counts never include special tokens (BOS/EOS): they measure the text itself.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.tokens.engine import CallableEngine, HFEngine, TiktokenEngine, WordEngine

WORDS_PER_PAGE = 500
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
TIKTOKEN_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


@dataclass(frozen=True)
class TextStats:
    tokens: int
    words: int
    lines: int
    pages: float
    chars: int
    tokenizer_used: str


def count_words(text: str) -> int:
    return len(text.split())


def count_lines(text: str) -> int:
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


# --------------------------------------------------------------------------- loading

def tiktoken_cache_file() -> Path | None:
    """Where tiktoken keeps cl100k_base, or None when caching is off."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        folder = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        folder = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        folder = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not folder:
        return None
    return Path(folder) / hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _load_tiktoken(path: str, mtime_ns: int):
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != TIKTOKEN_SHA256:
        return None  # tiktoken would delete it and download again: don't let it
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def cached_tiktoken():
    """The cl100k_base encoding if (and only if) it loads without the network."""
    path = tiktoken_cache_file()
    try:
        if path is None or not path.is_file():
            return None
        return _load_tiktoken(str(path), path.stat().st_mtime_ns)
    except Exception:  # noqa: BLE001 - a broken cache is just "not cached"
        return None


def has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha1(str(folder).encode())
    for name in TOKENIZER_FILES + ("special_tokens_map.json", "merges.txt"):
        p = folder / name
        if p.is_file():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def _raw_engine(path: Path):
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(path / "tokenizer.json"))
    specials = len(backend.encode("a").ids) - len(backend.encode("a", add_special_tokens=False).ids)
    return HFEngine(backend), specials


@functools.lru_cache(maxsize=8)
def _load_hf(folder: str, fingerprint: str, like_mlx_lm: bool):
    """A folder's tokenizer. ``like_mlx_lm``: load it through transformers exactly as mlx-lm does
    (slower to start: imports transformers); otherwise ``tokenizer.json`` directly when present."""
    path = Path(folder)
    if not like_mlx_lm and (path / "tokenizer.json").is_file():
        try:
            engine, specials = _raw_engine(path)
            return _checked(engine, path), max(0, specials)
        except ModelError:
            raise
        except Exception:  # noqa: BLE001 - let transformers try
            pass
    try:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        backend = getattr(tok, "backend_tokenizer", None)
        specials = len(tok.encode("a")) - len(tok.encode("a", add_special_tokens=False))
        engine = HFEngine(backend) if backend is not None else CallableEngine(tok)
        template = _row_template(tok)
    except Exception as exc:  # noqa: BLE001 - transformers can fail in many ways
        if not (path / "tokenizer.json").is_file():
            raise ModelError(f"cannot load the tokenizer ({type(exc).__name__}: {exc})".split("\n")[0],
                             path=path, hint="check the tokenizer files or choose another model") from exc
        (engine, specials), template = _raw_engine(path), None
    if like_mlx_lm:
        return _checked(engine, path), max(0, specials), template
    return _checked(engine, path), max(0, specials)


def _row_template(tok) -> tuple[tuple[int, ...], tuple[int, ...], int | None] | None:
    """``(prefix, suffix, eos)``: a text row's ids in training are ``prefix + ids + suffix`` (the
    special tokens the tokenizer adds itself), then EOS unless it already ends with it."""
    bare = list(tok.encode("a", add_special_tokens=False))
    full = list(tok.encode("a"))
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return tuple(full[:start]), tuple(full[start + len(bare):]), tok.eos_token_id
    return None


def _checked(engine, path: Path):
    """Refuse tokenizers that only know their special tokens (vocabulary files missing)."""
    if isinstance(engine, HFEngine):
        model = engine.backend.model
        unk = engine.backend.token_to_id(str(getattr(model, "unk_token", "") or "")) if hasattr(model, "unk_token") \
            else None
        ids = engine.backend.encode("The quick brown fox jumps over the lazy dog.", add_special_tokens=False).ids
        if engine.backend.get_vocab_size() < 100 or (unk is not None and unk in ids):
            raise ModelError("the tokenizer has no vocabulary (only special tokens)", path=path,
                             hint="copy its tokenizer.json or tokenizer.model into the folder")
    return engine


def _object_name(tokenizer) -> str:
    inner = getattr(tokenizer, "_tokenizer", tokenizer)
    name = getattr(inner, "name_or_path", "") or getattr(tokenizer, "name_or_path", "")
    return Path(str(name)).name if name else type(inner).__name__


def _object_engine(tokenizer):
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        return HFEngine(tokenizer), 0
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(backend, Tokenizer):
        try:
            specials = len(tokenizer.encode("a")) - len(tokenizer.encode("a", add_special_tokens=False))
        except Exception:  # noqa: BLE001
            specials = 0
        return HFEngine(backend), max(0, specials)
    if hasattr(tokenizer, "encode_ordinary"):
        return TiktokenEngine(tokenizer), 0
    return CallableEngine(tokenizer), 0


# --------------------------------------------------------------------------- the chain

class TokenCounter:
    """The priority chain, resolved once. ``name`` says which tokenizer counts.

    With ``strict=True`` a ``model_path`` that has no usable tokenizer raises ``ModelError``;
    otherwise the chain falls through and ``note`` says why. A model folder's ``tokenizer.json`` is
    read directly with ``tokenizers`` (fast start, no transformers import); ``like_mlx_lm=True``
    loads it through transformers exactly as mlx-lm will (used to prepare training data).
    """

    def __init__(self, tokenizer=None, model_path: str | Path | None = None, *, strict: bool = False,
                 like_mlx_lm: bool = False):
        self.note = ""
        self.special_tokens = 0  # BOS/EOS the tokenizer adds to a row by itself
        #: (prefix, suffix, eos) of a training row, known when loaded exactly as mlx-lm loads it
        self.row_template: tuple[tuple[int, ...], tuple[int, ...], int | None] | None = None
        if tokenizer is not None:
            self.engine, self.special_tokens = _object_engine(tokenizer)
            self.kind, self.name = "model", f"{_object_name(tokenizer)} (model tokenizer)"
            self.key = f"obj:{self.name}"
            return
        if model_path is not None:
            folder = Path(model_path).expanduser()
            try:
                if not folder.is_dir():
                    raise ModelError("model folder not found", path=folder, hint="check the path")
                if not has_tokenizer_files(folder):
                    raise ModelError("no tokenizer in the model folder (tokenizer.json or tokenizer_config.json)",
                                     path=folder, hint="choose a model folder that has its tokenizer files")
                fingerprint = _fingerprint(folder.resolve())
                loaded = _load_hf(str(folder.resolve()), fingerprint, like_mlx_lm)
                self.engine, self.special_tokens = loaded[:2]
                self.row_template = loaded[2] if like_mlx_lm else None
                self.kind, self.name = "hf", f"{folder.name} (HF tokenizer)"
                self.key = f"hf{'x' if like_mlx_lm else ''}:{folder.name}:{fingerprint}"
                return
            except ModelError as exc:
                if strict:
                    raise
                self.note = str(exc)
        encoding = cached_tiktoken()
        if encoding is not None:
            self.engine, self.kind, self.name, self.key = TiktokenEngine(encoding), "tiktoken", \
                "tiktoken cl100k_base", "tiktoken:cl100k_base"
            return
        self.engine, self.kind = WordEngine(), "words"
        self.name, self.key = "word estimate (1.4 x words)", "words:1.4"

    @property
    def can_chunk(self) -> bool:
        """True when token-exact chunking is possible (a Hugging Face fast tokenizer)."""
        return isinstance(self.engine, HFEngine)

    @property
    def exact(self) -> bool:
        return self.kind != "words"

    def count(self, text: str) -> int:
        return self.engine.count(text)

    def count_many(self, texts: list[str]) -> list[int]:
        return self.engine.count_many(texts)

    def row_ids(self, text: str) -> list[int] | None:
        """The token ids mlx-lm trains on for a ``{"text": text}`` row (specials and EOS included), or
        None when this tokenizer was not loaded as mlx-lm loads it."""
        if self.row_template is None or not isinstance(self.engine, HFEngine):
            return None
        prefix, suffix, eos = self.row_template
        ids = [*prefix, *self.engine.ids(text), *suffix]
        if eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)
        return ids

    def chunk(self, text: str, target: int) -> list[tuple[str, int]]:
        if not self.can_chunk:
            raise ModelError(f"token chunking needs a Hugging Face tokenizer, not {self.name}",
                             hint="choose a model folder with tokenizer.json")
        return self.engine.chunk(text, target)

    def row_overhead(self) -> int:
        """Tokens a training row adds to a chunk: the tokenizer's own specials + the EOS mlx-lm appends."""
        return self.special_tokens + 1

    def __repr__(self) -> str:
        return f"TokenCounter({self.name!r})"


# --------------------------------------------------------------------------- functions

def _counter(tokenizer, model_path) -> TokenCounter:
    return TokenCounter(tokenizer=tokenizer, model_path=model_path)


def count_tokens(text: str, tokenizer=None, model_path: str | Path | None = None) -> tuple[int, str]:
    """``(count, tokenizer_used)`` for ``text``."""
    counter = _counter(tokenizer, model_path)
    return counter.count(text), counter.name


def get_text_stats(text: str, tokenizer=None, model_path: str | Path | None = None,
                   counter: TokenCounter | None = None) -> TextStats:
    counter = counter or _counter(tokenizer, model_path)
    words = count_words(text)
    return TextStats(tokens=counter.count(text), words=words, lines=count_lines(text),
                     pages=round(words / WORDS_PER_PAGE, 2), chars=len(text), tokenizer_used=counter.name)


def validate_token_count(text: str, old_count: int, tokenizer=None, model_path: str | Path | None = None) -> dict:
    """Compare an old token count with the accurate one; say whether it is still usable."""
    counter = _counter(tokenizer, model_path)
    accurate = counter.count(text)
    diff = old_count - accurate
    pct = (diff / accurate * 100.0) if accurate else (0.0 if old_count == 0 else 100.0)
    ok = abs(pct) <= 5.0
    if ok:
        advice = "the old count is within 5% of the accurate one"
    else:
        direction = "over" if diff > 0 else "under"
        advice = f"the old count {direction}-estimates by {abs(pct):.1f}%; recount with {counter.name}"
    if not counter.exact:
        advice += " (no tokenizer available: the accurate count is itself an estimate; pass a model)"
    return {"accurate_count": accurate, "old_count": old_count, "difference": diff,
            "difference_percent": round(pct, 2), "is_accurate": ok, "tokenizer_used": counter.name,
            "recommendation": advice}
