"""Build what a run trains: the model with LoRA/DoRA/full layers, the optimizer and LR schedule.

Pieces from mlx-lm (``load``, ``linear_to_lora_layers``) and mlx (optimizers, schedulers); MLX is
imported inside the functions. Gradient checkpointing is enabled per model instance (mlx-lm's
version patches the block class for every instance, permanently, and twice when called twice).
"""

from __future__ import annotations

import json
from pathlib import Path

from forgellm_tui.core.config import MLX_SCHEDULE, TrainingConfig
from forgellm_tui.core.errors import ConfigError, ModelError

_CKPT_FLAG = "_forgellm_grad_checkpoint"
_ORIGINAL = "_forgellm_original_call"


def model_config(path: Path) -> dict:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def is_quantized(path: Path) -> bool:
    cfg = model_config(path)
    return bool(cfg.get("quantization") or cfg.get("quantization_config"))


def num_model_layers(path: Path) -> int | None:
    cfg = model_config(path)
    cfg = cfg.get("text_config", cfg) if isinstance(cfg.get("text_config"), dict) else cfg
    for key in ("num_hidden_layers", "n_layer", "num_layers", "n_layers"):
        if isinstance(cfg.get(key), int):
            return cfg[key]
    return None


def load_model(path: Path, cfg: TrainingConfig):
    """``(model, tokenizer)`` via mlx_lm.load from a local folder (never downloads)."""
    from mlx_lm import load

    return load(str(path), tokenizer_config={"trust_remote_code": cfg.trust_remote_code},
                trust_remote_code=cfg.trust_remote_code)


def check_model_loads(path: Path, cfg: TrainingConfig) -> None:
    """Build the model from config.json with its weights mapped lazily (no weight data is read).

    mlx-lm checks every weight's name and shape against the config here, so an unknown
    ``model_type`` or a config whose sizes do not match its weights is a ModelError before a run
    folder is made, not a failure at iteration 0.
    """
    from mlx_lm.utils import load_model as _load

    try:
        model, _ = _load(Path(path), lazy=True, trust_remote_code=cfg.trust_remote_code)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0].rstrip(":,") if str(exc).strip() else type(exc).__name__
        more = " …" if "\n" in str(exc).strip() else ""
        raise ModelError(f"the model cannot be built from its files ({first}{more})", path=Path(path) / "config.json",
                         hint="config.json must match the weights (model_type, sizes, layers): copy or download "
                              "the model again") from None
    del model


def load_tokenizer(path: Path, cfg: TrainingConfig):
    """mlx-lm's TokenizerWrapper for a model folder (no weights loaded)."""
    from mlx_lm.utils import load_tokenizer as _load

    return _load(path, {"trust_remote_code": cfg.trust_remote_code})


def apply_fine_tune(model, cfg: TrainingConfig) -> tuple[int, int]:
    """Freeze the model and make the configured part trainable. Returns (trainable, total) counts."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.utils import linear_to_lora_layers

    from forgellm_tui.core.config import ConfigFieldError

    layers = len(model.layers)
    if cfg.num_layers > layers:
        raise ConfigFieldError({"num_layers": f"the model has {layers} layers, got {cfg.num_layers} "
                                              f"(use -1 for all)"}, path=cfg.source)
    mx.random.seed(cfg.seed)  # LoRA init draws random numbers
    model.freeze()
    if cfg.fine_tune_type == "full":
        for layer in model.layers[-max(cfg.num_layers, 0):]:
            layer.unfreeze()
    else:
        try:
            linear_to_lora_layers(model, cfg.num_layers, cfg.lora_parameters, use_dora=cfg.fine_tune_type == "dora")
        except ValueError as exc:
            raise ConfigFieldError({"fine_tune_type": f"{cfg.fine_tune_type} is not possible on this model ({exc})"},
                                   path=cfg.source)
    trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    if trainable == 0:
        raise ConfigFieldError({"lora_keys": f"none of {cfg.lora_keys} is a layer of this model"}, path=cfg.source)
    total = sum(v.size for _, v in tree_flatten(model.parameters()))
    return trainable, total


def trainable_weights(model) -> dict:
    from mlx.utils import tree_flatten

    return dict(tree_flatten(model.trainable_parameters()))


def load_adapter_weights(model, weights: dict, source: Path) -> None:
    """Load adapter/trained weights after checking names and shapes (mlx-lm's resume does not)."""
    expected = trainable_weights(model)
    problems = [f"{k}: not trainable in this model" for k in weights if k not in expected]
    problems += [f"{k}: shape {tuple(w.shape)} vs {tuple(expected[k].shape)} in the model"
                 for k, w in weights.items() if k in expected and w.shape != expected[k].shape]
    missing = [k for k in expected if k not in weights]
    if problems or missing:
        detail = (problems + [f"{k}: missing" for k in missing])[0]
        raise ConfigError(f"adapter weights do not match this config ({detail}; {len(problems) + len(missing)} "
                          "problem(s))", path=source,
                          hint="use the fine_tune_type, num_layers, lora_rank and lora_keys it was trained with")
    model.load_weights(list(weights.items()), strict=False)


def enable_grad_checkpoint(model) -> None:
    """Recompute each block's activations in the backward pass, for this model's blocks only.

    The block class gets one wrapper (installed once per class, ever); it checkpoints only
    instances flagged here, so other models of the same class in the process are unaffected.
    """
    import mlx.core as mx

    for layer in model.layers:
        cls = type(layer)
        if _ORIGINAL not in cls.__dict__:
            original = cls.__call__

            def call(self, *args, _original=original, **kwargs):
                if not getattr(self, _CKPT_FLAG, False):
                    return _original(self, *args, **kwargs)

                def inner(params, *a, **k):
                    self.update(params)
                    return _original(self, *a, **k)

                return mx.checkpoint(inner)(self.trainable_parameters(), *args, **kwargs)

            setattr(cls, _ORIGINAL, original)
            cls.__call__ = call
        object.__setattr__(layer, _CKPT_FLAG, True)


def build_schedule(cfg: TrainingConfig, total_steps: int):
    """The learning rate: a float (constant, no warmup) or an mlx schedule of the update count."""
    from mlx.optimizers import schedulers as S

    lr, warmup = cfg.learning_rate, cfg.warmup_steps
    decay_steps = max(total_steps - warmup, 1)
    end = lr * cfg.lr_decay_factor
    if cfg.lr_schedule_arguments:
        args = list(cfg.lr_schedule_arguments)
        main = (lambda _step, v=float(args[0]): v) if cfg.lr_schedule == "constant" else \
            getattr(S, MLX_SCHEDULE[cfg.lr_schedule])(*args)
        lr = float(args[0])
    elif cfg.lr_schedule == "cosine":
        main = S.cosine_decay(lr, decay_steps, end)
    elif cfg.lr_schedule == "linear":
        main = S.linear_schedule(lr, end, decay_steps)
    else:
        main = None
    if warmup:
        warm = S.linear_schedule(cfg.warmup_init, lr, warmup)
        return S.join_schedules([warm, main or (lambda _step: lr)], [warmup])
    return main if main is not None else lr


def build_optimizer(cfg: TrainingConfig, total_steps: int):
    import mlx.optimizers as optim

    classes = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "adafactor": optim.Adafactor,
               "muon": optim.Muon}
    kwargs = dict((cfg.optimizer_config or {}).get(cfg.optimizer) or {})
    if cfg.weight_decay is not None and cfg.optimizer != "adam":
        kwargs["weight_decay"] = cfg.weight_decay
    return classes[cfg.optimizer](learning_rate=build_schedule(cfg, total_steps), **kwargs)


def adapter_config(cfg: TrainingConfig, model_path: Path) -> dict:
    """mlx-lm compatible ``adapter_config.json`` (``mlx_lm generate --adapter-path RUN`` reads it)."""
    return {
        "fine_tune_type": cfg.fine_tune_type,
        "num_layers": cfg.num_layers,
        "lora_parameters": cfg.lora_parameters,
        "model": str(model_path),
        "base_model": cfg.model,
        "training_type": cfg.training_type,
        "data": cfg.data,
        "batch_size": cfg.batch_size,
        "grad_accumulation_steps": cfg.grad_accumulation_steps,
        "iters": cfg.max_iterations,
        "learning_rate": cfg.learning_rate,
        "max_seq_length": cfg.max_seq_length,
        "mask_prompt": cfg.effective_mask_prompt,
        "optimizer": cfg.optimizer,
        "seed": cfg.seed,
        "trainer": "forgellm-tui",
    }
