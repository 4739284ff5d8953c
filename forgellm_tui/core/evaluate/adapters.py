"""A run's adapter on the loaded base model: its layers built once, each checkpoint's weights swapped in.

Nothing is fused: the base weights stay as loaded and each LoRA layer adds its low-rank product to the
base layer's output at every forward pass, as in training. For scoring, a plain LoRA layer over float
weights adds that product with one fused matrix product (``lora_scoring.ScoringLoRALinear``).
"""

from __future__ import annotations

import json
from pathlib import Path

from forgellm_tui.core.errors import ModelError


def attach(model, folder: Path) -> None:
    """Build the adapter's layers on the base model, as its ``adapter_config.json`` says (weights come later)."""
    import mlx.core as mx
    from mlx_lm.tuner.utils import linear_to_lora_layers

    from forgellm_tui.core.runs import checkpoints as ck

    config = json.loads((folder / ck.ADAPTER_CONFIG).read_text(encoding="utf-8"))
    kind, layers = config.get("fine_tune_type", "lora"), int(config.get("num_layers", -1))
    model.freeze()
    if kind == "full":
        for layer in model.layers[-max(layers, 0):]:
            layer.unfreeze()
        return
    mx.random.seed(0)  # the layers' initial values are replaced by the checkpoint's
    try:
        linear_to_lora_layers(model, layers, config.get("lora_parameters") or {}, use_dora=kind == "dora")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"the adapter does not fit the base model ({exc})", path=folder / ck.ADAPTER_CONFIG,
                         hint="evaluate it over the base model it was trained on (`model:` in the run's config.yaml)")
    _score_with_addmm(model)


def _score_with_addmm(model) -> None:
    """Swap every plain LoRA layer for the scoring one (same parameters, same names)."""
    from mlx.utils import tree_unflatten
    from mlx_lm.tuner.lora import LoRALinear

    from forgellm_tui.core.evaluate.lora_scoring import ScoringLoRALinear

    swaps = [(name, ScoringLoRALinear.of(layer)) for name, layer in model.named_modules()
             if type(layer) is LoRALinear]
    if swaps:
        model.update_modules(tree_unflatten(swaps))


def check_fit(model_path: Path, checkpoints: list, cfg) -> None:
    """ModelError when a checkpoint's adapter weights do not fit the base model, before anything is measured.

    Uses the model built with its weights mapped lazily (nothing read) and the adapters' file headers.
    """
    from mlx.utils import tree_flatten
    from mlx_lm.utils import load_model as build

    from forgellm_tui.core.evaluate.targets import adapter_file
    from forgellm_tui.core.models import tensor_shapes

    model, _ = build(Path(model_path), lazy=True, trust_remote_code=cfg.trust_remote_code)
    attach(model, checkpoints[0].path)
    expected = {k: tuple(v.shape) for k, v in tree_flatten(model.trainable_parameters())}
    for chosen in checkpoints:
        found = tensor_shapes(adapter_file(chosen))
        problems = [f"{k}: not in the model" for k in found if k not in expected]
        problems += [f"{k}: shape {tuple(found[k])} vs {expected[k]} in the model" for k in found
                     if k in expected and tuple(found[k]) != expected[k]]
        problems += [f"{k}: missing" for k in expected if k not in found]
        if problems:
            raise ModelError(f"adapter weights do not match the base model ({problems[0]}; {len(problems)} "
                             "problem(s))", path=adapter_file(chosen),
                             hint="the base model is not the one it was trained on: restore it, or fix `model:` "
                                  "in the run's config.yaml")


def load_adapter(model, folder: Path) -> None:
    """Replace the adapter layers' weights with ``folder``'s checkpoint (ModelError if they do not fit)."""
    from forgellm_tui.core.errors import ConfigError
    from forgellm_tui.core.runs import checkpoints as ck
    from forgellm_tui.core.training import load_adapter_weights

    try:
        load_adapter_weights(model, ck.load_weights(folder), folder / ck.ADAPTERS)
    except ConfigError as exc:
        raise ModelError(exc.message.replace("this config", "the base model"), path=folder / ck.ADAPTERS,
                         hint="the base model is not the one it was trained on: restore it, or fix `model:` "
                              "in the run's config.yaml") from None
    model.eval()
