"""Token counting: the priority chain with real tokenizers, and exact counts on real text."""

from __future__ import annotations

import pytest

from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.tokens.stats import TokenCounter, cached_tiktoken, count_tokens, get_text_stats, \
    tiktoken_cache_file, validate_token_count

from pathlib import Path

TOKENIZERS = Path(__file__).parents[1] / "fixtures" / "tokenizers"
TRICKY = ("naïve café 你好 🤖 Ⅻ ½ ² it's I'LL   x\n\n\n\t  y  \r\n 12345 3.14159 "
          "def f(x):\n        return x**2  # comment\n!!!...---===\u00a0nbsp e\u0301 ＡＢＣ ﬁ")


@pytest.fixture
def no_tiktoken_cache(tmp_path, monkeypatch):
    """An empty tiktoken cache: tiktoken would need the network, so the chain must skip it."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    return tmp_path / "tiktoken-cache"


def demo_texts(demo_dir, n=12):
    files = sorted((demo_dir / "dataset").rglob("*.txt"))
    return [p.read_text(encoding="utf-8") for p in files[:: max(1, len(files) // n)]]


def test_model_folder_counts_with_its_own_tokenizer(demo_dir, demo_model):
    from tokenizers import Tokenizer

    counter = TokenCounter(model_path=demo_model)
    assert counter.name == "forge-tiny (HF tokenizer)"
    assert counter.can_chunk and counter.row_overhead() == 1  # no BOS; mlx-lm appends EOS
    real = Tokenizer.from_file(str(demo_model / "tokenizer.json"))
    for text in demo_texts(demo_dir) + [TRICKY]:
        assert counter.count(text) == len(real.encode(text, add_special_tokens=False).ids)


@pytest.mark.parametrize("name", ["gpt2-xl", "qwen2.5-coder-3b-instruct", "mistral-7b-instruct-v0.3",
                                  "phi-3-mini-128k-instruct"])
def test_counts_match_transformers_for_real_model_tokenizers(demo_dir, name):
    from transformers import AutoTokenizer

    folder = TOKENIZERS / name
    counter = TokenCounter(model_path=folder)
    assert counter.name == f"{name} (HF tokenizer)"
    hf = AutoTokenizer.from_pretrained(str(folder))
    texts = demo_texts(demo_dir, 6) + [TRICKY, TRICKY * 3, "<|im_start|>user hi<|im_end|>", ""]
    assert counter.count_many(texts) == [len(hf.encode(t, add_special_tokens=False)) for t in texts]


@pytest.mark.parametrize("name", ["demo", "gpt2-xl", "qwen2.5-coder-3b-instruct"])
def test_sparse_non_ascii_text_counts_exactly(demo_dir, demo_model, name):
    """Mostly-ASCII text takes the fast split with stand-ins for its few non-ASCII characters."""
    import random

    from transformers import AutoTokenizer

    folder = demo_model if name == "demo" else TOKENIZERS / name
    counter = TokenCounter(model_path=folder)
    hf = AutoTokenizer.from_pretrained(str(folder))
    rng = random.Random(0)
    extras = ["é", "你好", "🤖", "\u00a0", "\u3000", "½", "Ⅻ", "²", "ſ", "\u212a", "ﬁ", "\u2028", "\u0301", "’",
              "—", "Ω", "١٢٣", "\u200b", "\x85"]
    texts = []
    for text in demo_texts(demo_dir, 8):
        chars = list(text)
        for _ in range(len(chars) // 400):
            chars.insert(rng.randrange(len(chars)), rng.choice(extras))
        texts.append("".join(chars))
    texts.append("it'ſ 'ſt x\u00a0\u00a0 y" + " plain ascii words" * 200)
    assert counter.count_many(texts) == [len(hf.encode(t, add_special_tokens=False)) for t in texts]


def test_loaded_tokenizer_wins_over_model_folder(demo_model):
    from mlx_lm.utils import load_tokenizer

    wrapper = load_tokenizer(demo_model)
    counter = TokenCounter(tokenizer=wrapper, model_path=TOKENIZERS / "gpt2-xl")
    assert counter.kind == "model" and "model tokenizer" in counter.name
    text = "Return a new list containing all items from the iterable."
    assert counter.count(text) == len(wrapper.encode(text, add_special_tokens=False))
    assert count_tokens(text, tokenizer=wrapper)[0] != count_tokens(text, model_path=TOKENIZERS / "gpt2-xl")[0]


def test_word_estimate_when_nothing_else_is_available(no_tiktoken_cache):
    counter = TokenCounter()
    assert counter.name == "word estimate (1.4 x words)"
    assert counter.count("one two three four five") == 7
    assert not counter.can_chunk


def test_tiktoken_is_skipped_when_not_cached(no_tiktoken_cache):
    assert tiktoken_cache_file().parent == no_tiktoken_cache
    assert cached_tiktoken() is None
    assert TokenCounter().kind == "words"


def test_corrupt_tiktoken_cache_is_not_used_nor_deleted(no_tiktoken_cache):
    # tiktoken deletes a file with the wrong hash and downloads again: we must not hand it over
    path = tiktoken_cache_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the cl100k file")
    assert TokenCounter().kind == "words"
    assert path.read_bytes() == b"not the cl100k file"


def test_folder_without_tokenizer_falls_back_and_says_why(no_tiktoken_cache):
    counter = TokenCounter(model_path=TOKENIZERS / "llama-3.2-3b-instruct")  # chat template only
    assert counter.kind == "words"
    assert "no tokenizer" in counter.note and "llama-3.2-3b-instruct" in counter.note
    with pytest.raises(ModelError, match="no tokenizer"):
        TokenCounter(model_path=TOKENIZERS / "llama-3.2-3b-instruct", strict=True)


def test_tokenizer_without_vocabulary_is_not_trusted(no_tiktoken_cache):
    # gemma's folder loads in transformers but encodes every word as <unk>
    with pytest.raises(ModelError, match="no vocabulary"):
        TokenCounter(model_path=TOKENIZERS / "gemma-2b-it", strict=True)
    assert TokenCounter(model_path=TOKENIZERS / "gemma-2b-it").kind == "words"


def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        TokenCounter(model_path=tmp_path / "nope", strict=True)


def test_bos_adding_tokenizer_reports_its_row_overhead():
    assert TokenCounter(model_path=TOKENIZERS / "mistral-7b-instruct-v0.3").row_overhead() == 2  # <s> + EOS


def test_text_stats_fields(demo_model):
    text = "Hello world.\nSecond line here\n\nlast"
    stats = get_text_stats(text, model_path=demo_model)
    assert (stats.words, stats.lines, stats.chars) == (6, 4, len(text))
    assert stats.pages == round(6 / 500, 2)
    assert stats.tokenizer_used == "forge-tiny (HF tokenizer)"
    assert stats.tokens == TokenCounter(model_path=demo_model).count(text)
    assert get_text_stats("").tokens == 0 and get_text_stats("").lines == 0


def test_validate_token_count(demo_model):
    text = "The json module encodes and decodes JSON documents. " * 20
    exact = count_tokens(text, model_path=demo_model)[0]
    ok = validate_token_count(text, exact + 1, model_path=demo_model)
    assert ok["is_accurate"] and ok["accurate_count"] == exact and ok["difference"] == 1
    bad = validate_token_count(text, exact * 2, model_path=demo_model)
    assert not bad["is_accurate"] and bad["difference_percent"] == pytest.approx(100.0)
    assert "over-estimates" in bad["recommendation"]
