"""Offline demo workspace: corpus, tokenizer, a tiny random llama model, configs, prepared data.

``build_demo(folder)`` needs no network and takes well under a minute on a 2-core CPU. It is
deterministic (same seed -> same files) and safe to rerun: finished parts are kept.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from forgellm_tui.core import fsio
from forgellm_tui.core.demo.corpus import category_of, render_all, stdlib_modules

DEMO_VERSION = 2
MODEL_NAME = "forge-tiny"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MODEL_CONFIG = {
    "model_type": "llama",
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "intermediate_size": 704,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-5,
    "max_position_embeddings": 2048,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}

Progress = Callable[[str], None]


@dataclass
class DemoResult:
    folder: Path
    model_dir: Path
    files: int = 0
    corpus_bytes: int = 0
    qa_pairs: int = 0
    preference_pairs: int = 0
    vocab_size: int = 0
    parameters: int = 0
    steps: list[str] = field(default_factory=list)


def _noop(_: str) -> None:
    pass


# --------------------------------------------------------------------------- corpus

def build_corpus(folder: Path, progress: Progress = _noop) -> tuple[int, int, int]:
    """Write ``dataset/<category>/<module>.txt`` and ``dataset/ift/stdlib_qa.jsonl``.

    Returns ``(files, bytes, qa_pairs)``. Skipped when the marker says it is complete.
    """
    dataset = folder / "dataset"
    marker = dataset / ".demo-corpus.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("version") == DEMO_VERSION:
            progress("corpus: already built")
            return info["files"], info["bytes"], info["qa_pairs"]
    modules = stdlib_modules()
    progress(f"corpus: rendering documentation of {len(modules)} standard-library modules")
    files = size = 0
    pairs: list[tuple[str, str]] = []
    for name, text, qa in render_all(modules):
        if len(text) < 400:
            continue
        path = dataset / category_of(name) / (name.replace(".", "/") + ".txt")
        fsio.atomic_write_text(path, text)
        files += 1
        size += len(text.encode())
        pairs.extend(qa)
    rng = random.Random(1234)
    rng.shuffle(pairs)
    lines = [json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
                        ensure_ascii=False) for q, a in pairs]
    fsio.atomic_write_text(dataset / "ift" / "stdlib_qa.jsonl", "\n".join(lines) + "\n")
    fsio.atomic_write_json(marker, {"version": DEMO_VERSION, "files": files, "bytes": size, "qa_pairs": len(pairs)})
    progress(f"corpus: {files} files, {size / 1e6:.1f} MB, {len(pairs)} question/answer pairs")
    return files, size, len(pairs)


def corpus_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "dataset").rglob("*.txt"))


# --------------------------------------------------------------------------- tokenizer

def build_tokenizer(folder: Path, out: Path, vocab_size: int = 4096, progress: Progress = _noop) -> int:
    """Train a byte-level BPE on the corpus and save it in the Hugging Face format. Returns vocab size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    progress(f"tokenizer: training byte-level BPE ({vocab_size} tokens)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )

    def texts():
        for path in corpus_files(folder):
            yield path.read_text(encoding="utf-8")

    tok.train_from_iterator(texts(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=MODEL_CONFIG["max_position_embeddings"],
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(str(out))
    return tok.get_vocab_size()


# --------------------------------------------------------------------------- model

def build_model(out: Path, vocab_size: int, seed: int = 0, progress: Progress = _noop) -> int:
    """Create a small llama model with random weights; save it so ``mlx_lm.load`` loads it."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models.llama import Model, ModelArgs

    tokenizer_json = json.loads((out / "tokenizer.json").read_text())
    vocab = tokenizer_json["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
    eos_ids = [added.get("<|endoftext|>", vocab.get("<|endoftext|>")), added.get("<|im_end|>", vocab.get("<|im_end|>"))]
    config = dict(MODEL_CONFIG, vocab_size=vocab_size, eos_token_id=eos_ids, bos_token_id=None,
                  architectures=["LlamaForCausalLM"])
    args = {k: v for k, v in config.items() if k in ModelArgs.__dataclass_fields__}
    mx.random.seed(seed)
    model = Model(ModelArgs(**args))
    params = dict(tree_flatten(model.parameters()))
    mx.eval(params)
    n_params = sum(v.size for v in params.values())
    progress(f"model: llama, {config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
             f"{n_params / 1e6:.2f} M parameters (random init, seed {seed})")
    tmp = out / ".tmp-model.safetensors"
    mx.save_safetensors(str(tmp), params, metadata={"format": "mlx"})
    tmp.replace(out / "model.safetensors")
    fsio.atomic_write_json(out / "config.json", config)
    fsio.atomic_write_json(out / "generation_config.json", {"eos_token_id": eos_ids})
    return n_params


def build_model_folder(folder: Path, seed: int = 0, progress: Progress = _noop) -> tuple[Path, int, int]:
    target = folder / "models" / "base" / MODEL_NAME
    stamp = target / "forge-demo.json"
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("version") == DEMO_VERSION and info.get("seed") == seed:
            progress("model: already built")
            return target, info["vocab_size"], info["parameters"]
    with fsio.atomic_dir(target, replace=True) as tmp:
        vocab = build_tokenizer(folder, tmp, progress=progress)
        n_params = build_model(tmp, vocab, seed=seed, progress=progress)
        fsio.atomic_write_json(tmp / "forge-demo.json", {
            "version": DEMO_VERSION, "seed": seed, "vocab_size": vocab, "parameters": n_params,
            "note": "Random-weight demo model built by `forgellm-tui demo`. It knows nothing until trained."})
    return target, vocab, n_params


# --------------------------------------------------------------------------- workspace

def tree_digest(folder: Path, patterns: tuple[str, ...] = ("dataset/**/*", "models/base/**/*", "configs/*")) -> str:
    """A hash of the demo's files (names and bytes), used to check that builds are deterministic."""
    h = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and not fsio.is_temp_name(path):
                h.update(str(path.relative_to(folder)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def build_demo(folder: str | Path = "forgellm-demo", seed: int = 0, progress: Progress = _noop,
               prepare: bool = True) -> DemoResult:
    """Build (or complete) the demo workspace in ``folder``."""
    folder = Path(folder).expanduser().resolve()
    fsio.ensure_writable_dir(folder)
    for sub in ("dataset", "data", "models", "configs", "published"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    result = DemoResult(folder=folder, model_dir=folder / "models" / "base" / MODEL_NAME)
    result.files, result.corpus_bytes, result.qa_pairs = build_corpus(folder, progress)
    from forgellm_tui.core.demo.preference import build_preference_set

    result.preference_pairs = build_preference_set(folder, progress)
    result.model_dir, result.vocab_size, result.parameters = build_model_folder(folder, seed, progress)
    from forgellm_tui.core.demo.configs import write_demo_configs

    write_demo_configs(folder, progress)
    from forgellm_tui.core.demo.tasks import build_task_file

    build_task_file(folder, result.model_dir, progress=progress)
    if prepare:
        from forgellm_tui.core.demo.configs import prepare_demo_data

        prepare_demo_data(folder, progress)
    return result
