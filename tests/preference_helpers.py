"""Shared pieces of the preference tests: a few pairs, and the demo tokenizer and model."""

from __future__ import annotations

from pathlib import Path

from forgellm_tui.core.datasets import PreferenceRecord

TOKENIZERS = Path(__file__).parent / "fixtures" / "tokenizers"

PROMPTS = ["What is a shard?", "Why sort rows by length inside a bucket?", "What does a pad token do?",
           "Name one thing a checkpoint holds.", "What is the learning rate?", "Why keep a reference model?"]
CHOSEN = ["One rank's share of a batch.", "So the rows of a batch pad little.", "It fills a row up to the batch width.",
          "The adapter weights.", "How far each step moves the weights.", "To measure how far the policy moved."]
REJECTED = ["A piece of glass.", "Because sorting is fun.", "Nothing at all, it is decoration.", "A cheque.",
            "The speed of the GPU fan.", "There is no reason, really, none at all, it is just there."]


def records(count: int = len(PROMPTS)) -> list[PreferenceRecord]:
    """``count`` pairs (cycling through the texts above, numbered so every prompt differs)."""
    out = []
    for i in range(count):
        k = i % len(PROMPTS)
        prompt = PROMPTS[k] if i < len(PROMPTS) else f"{PROMPTS[k]} ({i})"
        out.append(PreferenceRecord(({"role": "user", "content": prompt},), CHOSEN[k], REJECTED[k]))
    return out


def load_tokenizer(folder: Path):
    from mlx_lm.tokenizer_utils import load

    return load(Path(folder))


def load_model(folder: Path):
    from mlx_lm import load

    model, _ = load(str(folder))
    return model
