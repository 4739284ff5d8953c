"""Builders for the chat/model tests: small real LoRA adapters and a workspace with every model kind.

Layout made by :func:`build_model_workspace` (``ws`` is the workspace, ``hf`` a fake HF hub cache)::

    ws/models/base/forge-tiny -> (link to the demo model)
    ws/models/cpt/run1/{adapters.safetensors, adapter_config.json, config.yaml}
    ws/models/cpt/run1/best/                      (same as checkpoint 10, with state.json)
    ws/models/cpt/run1/checkpoints/0000010/       (adapters + adapter_config.json + state.json)
    ws/models/cpt/run1/checkpoints/0000020/       (no adapter_config.json: uses the run's)
    ws/models/cpt/run1/0000030_adapters.safetensors  (mlx-lm style file)
    ws/published/pub-tiny/                        (a copy of the demo model)
    hf/models--org--tiny/snapshots/abc/           (links to the demo model's files), refs/main = abc
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

LORA = {"rank": 4, "scale": 20.0, "dropout": 0.0}
ADAPTER_CONFIG = {"fine_tune_type": "lora", "num_layers": 2, "lora_parameters": LORA}


def make_adapter(model_dir: Path, out_dir: Path, seed: int = 0, with_config: bool = True) -> Path:
    """Write a real LoRA adapter (2 layers, rank 4) whose lora_b weights are small random values."""
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_unflatten
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model, _ = load(str(model_dir))
    model.freeze()
    linear_to_lora_layers(model, 2, dict(LORA))
    mx.random.seed(seed)
    params = tree_flatten(model.trainable_parameters())
    model.update(tree_unflatten([(k, mx.random.normal(v.shape) * 0.05) for k, v in params if k.endswith("lora_b")]))
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = dict(tree_flatten(model.trainable_parameters()))
    mx.eval(weights)
    mx.save_safetensors(str(out_dir / "adapters.safetensors"), weights)
    if with_config:
        (out_dir / "adapter_config.json").write_text(json.dumps(ADAPTER_CONFIG))
    return out_dir


def build_model_workspace(root: Path, demo_model: Path) -> tuple[Path, Path]:
    """Create the layout above under ``root``; return (workspace, hf_cache)."""
    ws, hf = root / "ws", root / "hf"
    base = ws / "models" / "base" / "forge-tiny"
    base.parent.mkdir(parents=True)
    base.symlink_to(demo_model, target_is_directory=True)
    run = ws / "models" / "cpt" / "run1"
    make_adapter(demo_model, run, seed=1)
    (run / "config.yaml").write_text("model: models/base/forge-tiny\nfine_tune_type: lora\n")
    ck10 = make_adapter(demo_model, run / "checkpoints" / "0000010", seed=2)
    (ck10 / "state.json").write_text(json.dumps({"iteration": 10, "val_loss": 7.5}))
    ck20 = make_adapter(demo_model, run / "checkpoints" / "0000020", seed=3, with_config=False)
    (ck20 / "state.json").write_text(json.dumps({"iteration": 20, "val_loss": 7.25}))
    shutil.copytree(ck10, run / "best")
    tmp = make_adapter(demo_model, root / "file30", seed=4, with_config=False)
    shutil.move(str(tmp / "adapters.safetensors"), run / "0000030_adapters.safetensors")
    shutil.copytree(demo_model, ws / "published" / "pub-tiny")
    snap = hf / "models--org--tiny" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    for f in demo_model.iterdir():
        (snap / f.name).symlink_to(f)
    (hf / "models--org--tiny" / "refs").mkdir()
    (hf / "models--org--tiny" / "refs" / "main").write_text("abc")
    (hf / "datasets--org--data").mkdir()
    return ws, hf


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> content), to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
