"""Publish one checkpoint as a standalone model: fuse its adapters into the base model.

The output is built in a temporary folder next to ``published/<name>`` and renamed when complete,
so a failure (full disk, bad checkpoint, kill) never leaves a partial model behind. We fuse the
checkpoint folder that was asked for — never whatever ``adapters.safetensors`` of the run happens
to hold (a bug of the original ForgeLLM).
"""

from __future__ import annotations

import errno
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.publish.card import build_metadata, build_readme
from forgellm_tui.core.publish.dashboard import render_dashboard
from forgellm_tui.core.runs import (BEST_WORDS, RANK_WORDS, best_checkpoint, check_adapter, evaluation_summary,
                                    metrics_warnings, rank_checkpoints, ranked_checkpoints, read_metrics, read_run_config,
                                    resolve_base_model, select_checkpoint)

Progress = Callable[[str], None]
WRITE_FAILURE = ("unable to write", "no space left", "disk full", "[write]")


@dataclass
class PublishResult:
    path: Path
    name: str
    checkpoint_iteration: int
    checkpoint_label: str
    base_model: Path
    dequantized: bool
    warnings: list[str] = field(default_factory=list)


def default_name(run_dir: Path, iteration: int) -> str:
    return f"{Path(run_dir).name}-it{iteration}"


def check_name(name: str) -> str:
    """A published model name is one folder name under published/ (see ``names``)."""
    from forgellm_tui.core.names import check_name as check_folder_name

    return check_folder_name(name, "published model name")


def _why(label: str, iteration: int, ranked, asked: str = "") -> str:
    pos = next((s for s in ranked if s.iteration == iteration), None)
    if label == "best":
        base = f"it has the {BEST_WORDS} of the run (the run's `best/` checkpoint)"
    elif pos is not None and pos.rank == 1:
        base = f"it is the {RANK_WORDS} checkpoint (rank 1)"
    elif asked == "latest":
        base = "it is the newest checkpoint"
    else:
        base = "it was chosen by the user"
    if pos is not None and pos.reason:
        base += f" — {pos.reason}"
    return base


def needed_bytes(base: Path, dequantize: bool) -> int:
    """About how much the fused model takes on disk (de-quantizing grows quantized weights)."""
    size = sum(p.stat().st_size for p in base.glob("*.safetensors"))
    try:
        quant = json.loads((base / "config.json").read_text()).get("quantization") or {}
    except (OSError, ValueError):
        quant = {}
    if dequantize and isinstance(quant, dict) and quant.get("bits"):
        size = size * 16 // int(quant["bits"])
    return int(size * 1.05) + (1 << 20)


def free_bytes(folder: Path) -> int:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def fuse_into(out_dir: Path, base: Path, adapter_dir: Path, dequantize: bool) -> None:
    """Load base + adapters, fuse every LoRA/DoRA layer, save in the Hugging Face/MLX format."""
    from mlx.utils import tree_unflatten
    from mlx_lm.utils import dequantize_model, load, save

    model, tokenizer, config = load(str(base), adapter_path=str(adapter_dir), return_config=True)
    fused = [(n, m.fuse(dequantize=dequantize)) for n, m in model.named_modules() if hasattr(m, "fuse")]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if dequantize:
        model = dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    save(out_dir, base, model, tokenizer, config, donate_model=False)


def _write_failure(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    return isinstance(exc, RuntimeError) and any(p in str(exc).lower() for p in WRITE_FAILURE)


def publish(run_dir: str | Path, published_dir: str | Path, *, checkpoint: str | int = "best",
            name: str | None = None, dequantize: bool = False, hf_cache: Path | None = None,
            settings=None, progress: Progress | None = None) -> PublishResult:
    """Fuse ``checkpoint`` of the run into ``published_dir/<name>`` with README, metadata and dashboard."""
    progress = progress or (lambda _m: None)
    run_dir = Path(run_dir)
    ckpt = select_checkpoint(run_dir, checkpoint)
    check_adapter(ckpt.path)
    base = resolve_base_model(run_dir, hf_cache, settings)
    name = check_name(name or default_name(run_dir, ckpt.iteration))
    target = Path(published_dir) / name
    _check_room(target, base, dequantize)
    cfg = read_run_config(run_dir)
    warnings = metrics_warnings(run_dir)
    for note in warnings:
        progress(f"warning: {note}")
    records, _ = read_metrics(run_dir)
    ranked = ranked_checkpoints(run_dir, records) or rank_checkpoints(records, [ckpt.iteration])
    best = best_checkpoint(run_dir)
    progress(f"fusing checkpoint {ckpt.label} (iteration {ckpt.iteration}) into {base.name}")
    try:
        with fsio.atomic_dir(target) as out:
            fuse_into(out, base, ckpt.path, dequantize)
            progress("writing model card, metadata and dashboard")
            meta = build_metadata(name=name, base_model=str(cfg.get("model") or base), cfg=cfg,
                                  checkpoint_iteration=ckpt.iteration, checkpoint_label=ckpt.label,
                                  records=records, dequantized=dequantize)
            meta["run"] = run_dir.name
            meta["checkpoint_path"] = ckpt.path.relative_to(run_dir).as_posix()
            evaluation = evaluation_summary(run_dir, ckpt.label, ckpt.iteration)
            if evaluation is not None:
                meta["evaluation"] = evaluation
            readme = build_readme(meta=meta, cfg=cfg, ranked=ranked, records=records, run_name=run_dir.name,
                                  why=_why(ckpt.label, ckpt.iteration, ranked, str(checkpoint).lower()),
                                  data=cfg.get("data"), warnings=warnings,
                                  best_iteration=best.iteration if best is not None else None)
            _write_card(out, run_dir, cfg, meta, readme, records)
    except ForgeError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLX reports a failed write as RuntimeError
        error = _publish_error(exc, ckpt, base, target)
        if error is None:
            raise
        raise error from (None if isinstance(exc, ValueError) else exc)
    progress(f"published {target}")
    return PublishResult(target, name, ckpt.iteration, ckpt.label, base, dequantize, warnings)


def _check_room(target: Path, base: Path, dequantize: bool) -> None:
    """ForgeError when ``target`` exists or its disk cannot hold the fused model."""
    if target.exists():
        raise ForgeError("a published model with this name already exists", path=target,
                         hint="choose another name or delete the old one first")
    need, free = needed_bytes(base, dequantize), free_bytes(target.parent)
    if need > free:
        raise ForgeError(f"not enough free disk space: the model needs about {need >> 20} MB, "
                         f"{free >> 20} MB are free", path=target.parent, hint="free some space first")


def _write_card(out: Path, run_dir: Path, cfg: dict, meta: dict, readme: str, records: list[dict]) -> None:
    """README.md, metadata.json, training_config.yaml and dashboard.png beside the fused weights."""
    fsio.atomic_write_text(out / "README.md", readme)
    fsio.atomic_write_json(out / "metadata.json", meta)
    config_text = (run_dir / "config.yaml").read_text(encoding="utf-8") if cfg else ""
    fsio.atomic_write_text(out / "training_config.yaml", config_text or yaml.safe_dump(cfg, sort_keys=False))
    fsio.atomic_write_bytes(out / "dashboard.png",
                            render_dashboard(records, f"{meta['model_name']} — {run_dir.name}",
                                             meta["checkpoint_iteration"]))


def _publish_error(exc: Exception, ckpt, base: Path, target: Path) -> ForgeError | None:
    """The ForgeError for a fuse that does not fit or a failed write (nothing is left behind); None for others."""
    if isinstance(exc, ValueError):  # mlx-lm's load: the adapter does not fit this base model
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return ForgeError(f"checkpoint {ckpt.label} does not fit the base model {base} ({first}); nothing was "
                          "left behind", path=ckpt.path, hint="publish a checkpoint trained on this base model")
    if not _write_failure(exc):
        return None
    full = getattr(exc, "errno", None) == errno.ENOSPC or free_bytes(target.parent) < (64 << 20)
    reason = "the disk is full" if full else (getattr(exc, "strerror", None) or str(exc).strip())
    return ForgeError(f"could not write the published model ({reason}); nothing was left behind",
                      path=target, hint="free some space or choose another published folder")
