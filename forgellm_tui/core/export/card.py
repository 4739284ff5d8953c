"""The card of a quantized model: metadata.json gains a ``quantization`` section, README.md a section
with the sizes and the perplexity change, and dashboard.png a line under the curves."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.export.source import Source, read_json

CARD_EXTRAS = ("training_config.yaml",)


def mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:.2f} MB"


def summary(q: dict) -> str:
    """``4-bit affine g64: 12.3 MB → 3.4 MB (0.28×), perplexity 101.2 → 103.4 (+2.17%)``."""
    how = q.get("recipe") or f"{q.get('bits')}-bit {q.get('mode')}"
    return (f"{how} g{q.get('group_size')}: {mb(q.get('size_before_bytes'))} → {mb(q.get('size_after_bytes'))} "
            f"({q.get('size_ratio') or 0:.2f}×), perplexity {q['perplexity_before']:.3f} → "
            f"{q['perplexity_after']:.3f} ({q['perplexity_change_pct']:+.2f}%)")


def quantization_lines(q: dict) -> list[str]:
    how = f"`{q['recipe']}` (mixed-bit affine)" if q.get("recipe") else f"{q['bits']}-bit `{q['mode']}`"
    lines = ["", "## Quantization", "",
             f"Quantized from {q['source']} with mlx-lm's `quantize_model`: {how}, groups of {q['group_size']}, "
             f"{q['bits_per_weight']} bits per weight on average"
             + (" (the source was de-quantized first)." if q.get("dequantized_first") else "."), "",
             "| | before | after | change |", "|---|---|---|---|",
             f"| weights on disk | {mb(q['size_before_bytes'])} | {mb(q['size_after_bytes'])} | "
             f"{q['size_ratio']:.2f}× |",
             f"| test perplexity | {q['perplexity_before']:.4f} | {q['perplexity_after']:.4f} | "
             f"{q['perplexity_change_pct']:+.2f}% |",
             f"| test loss | {q['loss_before']:.4f} | {q['loss_after']:.4f} | "
             f"{q['loss_after'] - q['loss_before']:+.4f} |", "",
             f"Perplexity measured with `forgellm-tui eval` on the `{q['split']}` split of `{q['data']}` "
             f"({q['tokens']:,} tokens" + (f", its first {q['rows_limit']} rows" if q.get("rows_limit") else "")
             + "), the same rows before and after."]
    return lines


def _readme(model_dir: Path, name: str, q: dict) -> str:
    old = model_dir / "README.md"
    text = old.read_text(encoding="utf-8") if old.is_file() else ""
    if text.startswith("# "):
        head, _, rest = text.partition("\n")
        body = rest.rstrip("\n").splitlines()
    else:
        body = ["", f"A quantized copy of `{model_dir.name}`, made with forgellm-tui.", "",
                "## Use it with mlx-lm", "", "```bash", "pip install mlx-lm",
                f"mlx_lm.generate --model path/to/{name} --prompt \"Hello\"", "```"]
    return "\n".join([f"# {name}", *body, *quantization_lines(q), ""])


def _metadata(model_dir: Path, name: str, src: Source, q: dict) -> dict:
    meta = read_json(model_dir / "metadata.json")
    if not meta:
        meta = {"model_name": name, "base_model": str(src.path),
                "published_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "published_with": "forgellm-tui"}
    if src.kind == "run":
        meta["run"] = src.path.name
    meta["model_name"] = name
    meta["quantized_from"] = src.label
    meta["quantization"] = q
    return meta


def write_card(out: Path, model_dir: Path, name: str, src: Source, q: dict) -> None:
    """README.md, metadata.json, dashboard.png (and the run's training_config.yaml) beside the weights."""
    from forgellm_tui.core.publish import render_dashboard
    from forgellm_tui.core.runs import read_metrics

    meta = _metadata(model_dir, name, src, q)
    fsio.atomic_write_text(out / "README.md", _readme(model_dir, name, q))
    fsio.atomic_write_json(out / "metadata.json", meta)
    for extra in CARD_EXTRAS:
        if (model_dir / extra).is_file():
            shutil.copyfile(model_dir / extra, out / extra)
    records = read_metrics(src.run_dir)[0] if src.run_dir is not None else []
    title = f"{name} — {src.run_dir.name}" if src.run_dir is not None else name
    marked = meta.get("checkpoint_iteration") if isinstance(meta.get("checkpoint_iteration"), int) else None
    fsio.atomic_write_bytes(out / "dashboard.png", render_dashboard(records, title, marked, note=summary(q)))


def gguf_lines(name: str, size: int, modelfile) -> list[str]:
    """The card's GGUF and Ollama section."""
    lines = ["", "## GGUF and Ollama", "",
             f"`model.gguf` ({mb(size)}) holds the weights and tokenizer in GGUF, written by mlx-lm's GGUF exporter; "
             "llama.cpp and Ollama read it.", "",
             "`Modelfile` " + (f"uses a {modelfile.family} chat template translated from the model's own."
                               if modelfile.family else "uses a plain template."), "",
             "```bash", f"cd path/to/{name}", f"ollama create {name.lower()} -f Modelfile",
             f"ollama run {name.lower()}", "```"]
    if modelfile.note:
        lines += ["", f"Note: {modelfile.note}"]
    return lines
