"""Prepared data of the demo workspace: ``data/cpt-demo``, ``data/ift-demo`` and ``data/demo-preference``.

CPT chunks hold at most ``DEMO_CPT_TARGET`` = 127 forge-tiny tokens; mlx-lm appends EOS (forge-tiny
adds no BOS), so every row is at most 128 tokens = the demo config's ``max_seq_length``: rows are
never truncated and almost never padded. Rebuilding is skipped when the manifest already records
the same settings and tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

DEMO_DATA_VERSION = 1
DEMO_CPT_TARGET = 127
DEMO_MAX_SEQ_LENGTH = 128
DEMO_MODEL = "forge-tiny"
#: held out for ``forgellm-tui eval`` (test.jsonl), as ``prepare`` does by default
DEMO_TEST_FRACTION = 0.05


def _is_current(out: Path, options, tokenizer_key: str) -> bool:
    from forgellm_tui.core.datasets import read_manifest

    manifest = read_manifest(out)
    return bool(manifest and manifest.get("settings") == options.settings()
                and manifest.get("tokenizer", {}).get("key") == tokenizer_key
                and (out / "train.jsonl").is_file())


def prepare_demo(folder: str | Path, progress: Callable[[str], None]) -> None:
    from forgellm_tui.core.datasets import PrepareOptions, prepare
    from forgellm_tui.core.tokens import TokenCounter

    folder = Path(folder)
    dataset = folder / "dataset"
    model = folder / "models" / "base" / DEMO_MODEL
    counter = TokenCounter(model_path=model, strict=True, like_mlx_lm=True)
    jobs = [
        ("cpt-demo", PrepareOptions("cpt", dataset, folder / "data" / "cpt-demo", model_path=model,
                                    target_tokens=DEMO_CPT_TARGET, valid_fraction=0.1, test_fraction=DEMO_TEST_FRACTION,
                                    seed=42, mix_ratio=0.8)),
        ("ift-demo", PrepareOptions("ift", dataset, folder / "data" / "ift-demo", model_path=model,
                                    valid_fraction=0.1, test_fraction=DEMO_TEST_FRACTION, seed=42)),
        ("demo-preference", PrepareOptions("preference", dataset, folder / "data" / "demo-preference",
                                           model_path=model, target_tokens=DEMO_MAX_SEQ_LENGTH, valid_fraction=0.1,
                                           test_fraction=DEMO_TEST_FRACTION, seed=42)),
    ]
    for name, options in jobs:
        if _is_current(options.output_dir, options, counter.key):
            progress(f"data: {name} already prepared")
            continue
        result = prepare(options)
        extra = f", {result.general_share:.0%} general text" if options.kind == "cpt" else ""
        unit = "pairs" if options.kind == "preference" else "records"
        progress(f"data: {name}: {result.train_records} train / {result.valid_records} valid / "
                 f"{result.test_records} test {unit}, "
                 f"{result.train_tokens + result.valid_tokens:,} tokens{extra} ({result.seconds:.1f} s)")
