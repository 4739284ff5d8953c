"""What ``quantize`` starts from: a run checkpoint (fused first), a published model or a base model, and the
data its test perplexity is measured on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from forgellm_tui.core.errors import DataError, ForgeError, ModelError


@dataclass
class Source:
    kind: str                       # "run", "published" or "model"
    path: Path                      # the run folder or the model folder
    label: str                      # how the card names it
    checkpoint: object = None       # a run's chosen Checkpoint
    run_dir: Path | None = None     # the run the model came from, when known (its curves go on the dashboard)
    data: Path | None = None        # the prepared data folder or JSONL file measured on
    config: dict = field(default_factory=dict)  # config.json of the model that gets loaded


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve_source(value: str | Path, settings, checkpoint: str | None, data: str | Path | None) -> Source:
    """The source and its data; ForgeError (one line, nothing written) when either cannot be used."""
    from forgellm_tui.core.evaluate import resolve_target

    target = resolve_target(value, settings, checkpoint if checkpoint is not None else None)
    if target.kind == "run":
        chosen = target.checkpoints[0]
        src = Source("run", target.path, f"run `{target.path.name}`, checkpoint {chosen.label} (iteration "
                     f"{chosen.iteration})", chosen, target.path, config=read_json(target.model_path / "config.json"))
        configured = target.config.get("data")
    else:
        meta = read_json(target.path / "metadata.json")
        kind = "published" if meta else "model"
        src = Source(kind, target.path, f"{'published' if meta else 'base'} model `{target.path.name}`", None,
                     _run_folder(meta.get("run"), settings), config=read_json(target.path / "config.json"))
        configured = _trained_on(target.path)
    chosen_data = data if data is not None else configured
    if not chosen_data:
        raise DataError("no test data to measure the perplexity change on", path=target.path,
                        hint="give --data DIR (prepared data with test.jsonl) or FILE.jsonl")
    src.data = workspace_path(chosen_data, settings)
    if not src.data.exists():
        raise DataError("data folder not found", path=src.data, hint="give --data DIR (prepared data) or FILE.jsonl")
    if src.data.is_dir() and not (src.data / "test.jsonl").is_file():
        raise DataError("no test split to measure the perplexity change on (test.jsonl is missing)", path=src.data,
                        hint="give --data a prepared folder with test.jsonl, or a JSONL file")
    return src


def workspace_path(value: str | Path, settings) -> Path:
    """A path as given when it exists or is absolute, else relative to the workspace (like config paths)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() or path.exists() else settings.workspace / path


def _trained_on(folder: Path) -> str | None:
    """``data:`` of a published model's training_config.yaml (the prepared data of its run)."""
    import yaml

    try:
        cfg = yaml.safe_load((folder / "training_config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    value = cfg.get("data") if isinstance(cfg, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def _run_folder(name, settings) -> Path | None:
    if not isinstance(name, str) or not name:
        return None
    for folder in (root / name for root in settings.run_roots):
        if folder.is_dir():
            return folder
    return None


def quantization_of(config: dict) -> dict | None:
    """The ``quantization`` section of a model's config.json (None for an unquantized model)."""
    quant = config.get("quantization") or config.get("quantization_config")
    return quant if isinstance(quant, dict) and quant else None


def check_unquantized(src: Source, dequantize: bool) -> None:
    quant = quantization_of(src.config)
    if quant is not None and not dequantize:
        bits = quant.get("bits")
        raise ModelError(f"this model is already quantized ({bits}-bit {quant.get('mode', 'affine')}); quantizing "
                         "it again would stack the errors", path=src.path,
                         hint="add --dequantize to de-quantize it first, or quantize the unquantized model")


def weights_bytes(folder: Path) -> int:
    """Bytes of the model's weight files (``*.safetensors``) on disk."""
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))


def check_free(target: Path, need: int) -> None:
    from forgellm_tui.core.publish import free_bytes

    free = free_bytes(target.parent)
    if need > free:
        raise ForgeError(f"not enough free disk space: this needs about {need >> 20} MB, {free >> 20} MB are free",
                         path=target.parent, hint="free some space first")
