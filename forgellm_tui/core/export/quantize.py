"""Quantize a model with mlx-lm's own ``quantize_model`` and measure what it cost in test perplexity.

The quantized model is built in a temporary folder next to ``published/<name>`` and renamed when every
file is written, so a bad setting, a full disk or a kill leaves nothing behind. A run checkpoint is
first fused (``publish``) into a scratch folder that is removed at the end. Perplexity before and after
comes from ``evaluate`` (the same measure as ``forgellm-tui eval``) on the same test rows.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ConfigError, ForgeError
from forgellm_tui.core.export import card
from forgellm_tui.core.export.settings import QuantSettings
from forgellm_tui.core.export.source import (Source, check_free, check_unquantized, quantization_of, read_json,
                                             resolve_source, weights_bytes)

Progress = Callable[[float, str], None]   # (fraction done 0..1, what is happening)


@dataclass
class QuantizeResult:
    path: Path
    name: str
    settings: QuantSettings
    section: dict          # the ``quantization`` section of metadata.json


def default_name(src: Source, qs: QuantSettings) -> str:
    stem = f"{src.path.name}-it{src.checkpoint.iteration}" if src.kind == "run" else src.path.name
    return f"{stem}-{qs.recipe or f'q{qs.bits}'}" + ("" if qs.mode == "affine" else f"-{qs.mode}")


def quantize(source: str | Path, settings, qs: QuantSettings, *, name: str | None = None,
             checkpoint: str | None = None, data: str | Path | None = None, limit: int | None = None,
             dequantize: bool = False, progress: Progress | None = None, cancel: threading.Event | None = None) -> QuantizeResult:
    """Quantize ``source`` into ``published/<name>`` with its card, metadata and dashboard (see module doc)."""
    from forgellm_tui.core.publish import check_name

    tell = progress or (lambda _f, _m: None)
    src = resolve_source(source, settings, checkpoint, data)
    check_unquantized(src, dequantize)
    name = check_name(name or default_name(src, qs))
    target = Path(settings.published_dir) / name
    if target.exists():
        raise ForgeError("a published model with this name already exists", path=target,
                         hint="choose another name (--name) or delete the old one first")
    fsio.ensure_writable_dir(target.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f"{fsio.TMP_PREFIX}{name}.src.", dir=target.parent))
    try:
        model_dir = _source_model(src, scratch, settings, tell)
        check_free(target, weights_bytes(model_dir) + (1 << 20))
        scratch_settings = replace(settings, workspace=scratch)
        tell(0.25, "measuring the test perplexity before quantizing")
        before = _perplexity(model_dir, src.data, limit, scratch_settings, cancel)
        with fsio.atomic_dir(target) as out:
            tell(0.5, f"quantizing: {qs.describe()}")
            bpw = _quantize_into(out, model_dir, qs, dequantize)
            tell(0.65, "measuring the test perplexity after quantizing")
            after = _perplexity(out, src.data, limit, scratch_settings, cancel)
            section = dict(_section(qs, bpw, model_dir, out, before, after, src, dequantize), rows_limit=limit)
            tell(0.95, "writing model card, metadata and dashboard")
            card.write_card(out, model_dir, name, src, section)
    except ForgeError:
        raise
    except (OSError, RuntimeError) as exc:  # MLX reports a failed write as RuntimeError
        if not _write_failure(exc):
            raise
        raise _write_error(exc, target) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tell(1.0, f"published {target}")
    return QuantizeResult(target, name, qs, section)


def _source_model(src: Source, scratch: Path, settings, tell: Progress) -> Path:
    """The folder of the unquantized model: the source itself, or a run checkpoint fused into ``scratch``."""
    if src.kind != "run":
        return src.path
    from forgellm_tui.core.publish import publish

    tell(0.05, f"fusing checkpoint {src.checkpoint.label} of {src.path.name}")
    done = publish(src.path, scratch, checkpoint=str(src.checkpoint.iteration) if src.checkpoint.label != "best"
                   else "best", name="fused", settings=settings)
    return done.path


def _perplexity(folder: Path, data: Path, limit: int | None, settings, cancel) -> dict:
    """Test perplexity of a model folder, as ``forgellm-tui eval FOLDER --data DATA [--limit N]`` measures it."""
    from forgellm_tui.core.evaluate import EvalRequest, evaluate

    report = evaluate(EvalRequest(target=folder, data=data, split="test", limit=limit), settings, cancel=cancel)
    numbers = report.results[0]["perplexity"]
    if not numbers:
        raise ForgeError("the test split has no tokens to measure", path=data, hint="give --data with a test split")
    return numbers


def _quantize_into(out: Path, model_dir: Path, qs: QuantSettings, dequantize: bool) -> float:
    """Load, (de-quantize,) quantize with mlx-lm and save into ``out``; the bits per weight mlx-lm reports."""
    import contextlib
    import io

    from mlx_lm.convert import mixed_quant_predicate_builder
    from mlx_lm.utils import compute_bits_per_weight, dequantize_model, load, quantize_model, save

    model, tokenizer, config = load(str(model_dir), return_config=True)
    if dequantize and quantization_of(config) is not None:
        model = dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    try:
        predicate = mixed_quant_predicate_builder(qs.recipe, model, qs.group_size) if qs.recipe else None
        with contextlib.redirect_stdout(io.StringIO()):  # mlx-lm prints its own progress lines
            model, config = quantize_model(model, config, qs.group_size, qs.bits, mode=qs.mode,
                                           quant_predicate=predicate)
    except ValueError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"mlx-lm cannot quantize this model with {qs.describe()} ({first})",
                          hint="choose other --bits/--group-size/--mode") from None
    save(out, model_dir, model, tokenizer, config, donate_model=False)
    return float(compute_bits_per_weight(model))


def _section(qs: QuantSettings, bpw: float, model_dir: Path, out: Path, before: dict, after: dict, src: Source,
             dequantize: bool) -> dict:
    size_before, size_after = weights_bytes(model_dir), weights_bytes(out)
    change = (after["perplexity"] / before["perplexity"] - 1.0) * 100.0
    return dict(qs.as_dict(), bits_per_weight=round(bpw, 3), size_before_bytes=size_before,
                size_after_bytes=size_after, size_ratio=size_after / size_before if size_before else None,
                perplexity_before=before["perplexity"], perplexity_after=after["perplexity"],
                loss_before=before["loss"], loss_after=after["loss"], perplexity_change_pct=change,
                tokens=after["tokens"], data=str(src.data), split="test", source=src.label,
                dequantized_first=bool(dequantize and quantization_of(src.config)),
                quantized_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                quantized_with="mlx_lm.utils.quantize_model")


def _write_failure(exc: BaseException) -> bool:
    words = ("unable to write", "no space left", "disk full", "[write]", "[save")
    return isinstance(exc, OSError) or any(w in str(exc).lower() for w in words)


def _write_error(exc: BaseException, target: Path) -> ForgeError:
    from forgellm_tui.core.publish import free_bytes

    full = getattr(exc, "errno", None) == 28 or free_bytes(target.parent) < (64 << 20)
    reason = "the disk is full" if full else (getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0])
    return ForgeError(f"could not write the quantized model ({reason}); nothing was left behind", path=target,
                      hint="free some space or choose another published folder")


def read_metadata(folder: Path) -> dict:
    return read_json(Path(folder) / "metadata.json")
