"""Model card (README.md) and ``metadata.json`` (the original ForgeLLM's fields) of a published model."""

from __future__ import annotations

from datetime import datetime, timezone

from forgellm_tui.core.runs import BEST_WORDS, RANK_WORDS, CheckpointScore, split_series, val_reward_accuracy

HYPER_KEYS = ("fine_tune_type", "num_layers", "batch_size", "learning_rate", "lr_schedule", "max_iterations",
              "iters", "max_seq_length", "warmup_steps", "grad_accumulation_steps", "optimizer", "lora_parameters",
              "lora_rank", "lora_scale", "lora_dropout", "lora_keys", "packing", "mask_prompt", "train_on", "seed",
              "epochs")
#: the keys of one training type only (each is in every config file, with its default)
TYPE_KEYS = {"beta": "DPO", "orpo_lambda": "ORPO"}


def _get(cfg: dict, *keys, default=None):
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return default


def build_metadata(*, name: str, base_model: str, cfg: dict, checkpoint_iteration: int, checkpoint_label: str,
                   records: list[dict], dequantized: bool) -> dict:
    train, val = split_series(records)
    tokens = max((r.get("trained_tokens") or 0 for r in records if isinstance(r.get("trained_tokens"), (int, float))),
                 default=0)
    training_type = str(_get(cfg, "training_type", default="cpt")).upper()
    accuracy = val_reward_accuracy(records)
    performance = {"final_loss": train[-1][1] if train else None,
                   "best_validation_loss": min((v for _, v in val), default=None), "tokens_trained": int(tokens)}
    if accuracy:  # DPO, ORPO: the validation reward accuracy of the fused checkpoint (None: not validated there)
        performance["val_reward_accuracy"] = accuracy.get(checkpoint_iteration)
    return {
        "model_name": name,
        "base_model": base_model,
        "training_type": training_type,
        "checkpoint_iteration": checkpoint_iteration,
        "checkpoint": checkpoint_label,
        "training_config": {
            "learning_rate": _get(cfg, "learning_rate"),
            "batch_size": _get(cfg, "batch_size"),
            "max_iterations": _get(cfg, "max_iterations", "iters"),
            "fine_tune_type": _get(cfg, "fine_tune_type"),
            "max_seq_length": _get(cfg, "max_seq_length"),
        },
        "performance": performance,
        "dequantized": dequantized,
        "published_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "published_with": "forgellm-tui",
    }


def _fmt(x, digits=4) -> str:
    return "—" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))


def _ranking_note(ranked: list[CheckpointScore], best_iteration: int | None) -> str:
    """What the rank means, and how it relates to ``best/`` (two different choices, named apart)."""
    text = (f"The {RANK_WORDS} order ranks the checkpoints by a score (validation loss 50%, generalisation gap "
            "20%, stability of the recent training loss 20%, convergence 10%); a checkpoint saved between "
            "validations is not validated and ranks last.")
    if any(s.evaluation is not None for s in ranked):
        text += (" Checkpoints measured with `forgellm-tui eval` rank first, by held-out perplexity (lower is "
                 "better); the others follow.")
    if best_iteration is not None:
        text += f" `best/` is the checkpoint with the {BEST_WORDS}: iteration {best_iteration}."
        top = ranked[0].iteration if ranked else None
        if top is not None and top != best_iteration:
            text += f" The {RANK_WORDS} one (rank 1) is iteration {top}."
    return text


def build_readme(*, meta: dict, cfg: dict, ranked: list[CheckpointScore], records: list[dict], why: str,
                 run_name: str, data: str | None, warnings: list[str] | None = None,
                 best_iteration: int | None = None) -> str:
    lines = _about_lines(meta, cfg, why, run_name, data)
    if warnings:
        lines += ["", "## Notes", ""] + [f"- {w}" for w in warnings]
    lines += _evaluation_lines(meta.get("evaluation"))
    lines += _ranking_lines(ranked, best_iteration) + _loss_lines(meta, records) + _usage_lines(meta["model_name"])
    return "\n".join(lines)


def _about_lines(meta: dict, cfg: dict, why: str, run_name: str, data: str | None) -> list[str]:
    """The title, the fused checkpoint and why it was chosen, and the training settings."""
    it = meta["checkpoint_iteration"]
    lines = [
        f"# {meta['model_name']}",
        "",
        f"A {meta['training_type']} fine-tune of `{meta['base_model']}`, fused into a standalone model with "
        f"forgellm-tui from run `{run_name}`.",
        "",
        "## Checkpoint",
        "",
        f"Fused checkpoint: **iteration {it}** (`{meta['checkpoint']}`). Why: {why}.",
        "",
        f"Adapters fused: `{run_name}/{meta.get('checkpoint_path', meta['checkpoint'])}/adapters.safetensors`"
        + (" (de-quantized base)" if meta.get("dequantized") else ""),
        "",
        "## Training",
        "",
        f"- Base model: `{meta['base_model']}`",
        f"- Training type: {meta['training_type']} ({_get(cfg, 'fine_tune_type', default='lora')})",
        f"- Data: `{data or _get(cfg, 'data_dir', 'data', default='—')}`",
        f"- Tokens trained: {meta['performance']['tokens_trained']:,}",
        "",
        "| hyper-parameter | value |",
        "|---|---|",
    ]
    for key in HYPER_KEYS + tuple(k for k, kind in TYPE_KEYS.items() if kind == meta["training_type"]):
        if cfg.get(key) is not None:
            lines.append(f"| {key} | `{cfg[key]}` |")
    return lines


def _evaluation_lines(ev: dict | None) -> list[str]:
    """The checkpoint's held-out perplexity against the base model and its task accuracies, when evaluated."""
    if not ev:
        return []
    lines = ["", "## Evaluation", "",
             f"Measured with `forgellm-tui eval` (adapter applied in memory) on the `{ev.get('split') or '—'}` "
             f"split, {_fmt(ev.get('tokens'))} tokens, evaluated {ev.get('evaluated_at') or '—'}.", "",
             "| model | loss | perplexity |", "|---|---|---|",
             f"| this checkpoint | {_fmt(ev.get('loss'))} | {_fmt(ev.get('perplexity'), 2)} |",
             f"| base model | {_fmt(ev.get('base_loss'))} | {_fmt(ev.get('base_perplexity'), 2)} |"]
    if ev.get("perplexity_change_pct") is not None:
        lines += ["", f"Perplexity change against the base model: {ev['perplexity_change_pct']:+.2f}%."]
    if ev.get("tasks"):
        lines += ["", "| task | items | acc | acc_norm | chance |", "|---|---|---|---|---|"]
        for name, t in ev["tasks"].items():
            lines.append(f"| {name} | {_fmt(t.get('items'))} | {_pm(t.get('acc'), t.get('acc_stderr'))} | "
                         f"{_pm(t.get('acc_norm'), t.get('acc_norm_stderr'))} | {_fmt(t.get('chance'))} |")
    return lines


def _pm(value, stderr) -> str:
    """``0.6250 ± 0.1250`` (the standard error is missing for a single item)."""
    return _fmt(value) + (f" ± {stderr:.4f}" if isinstance(stderr, float) else "")


def _ranking_lines(ranked: list[CheckpointScore], best_iteration: int | None) -> list[str]:
    """The three recommended checkpoints (or why there are none)."""
    lines = ["", "## Recommended checkpoints", "", _ranking_note(ranked, best_iteration), "",
             "| recommended | iteration | validation loss | gap (val − train) | reason |", "|---|---|---|---|---|"]
    if not ranked or all(s.validation_loss is None for s in ranked):
        lines.append("| — | — | — | — | no validation losses recorded |")
    for s in ranked[:3] if any(s.validation_loss is not None for s in ranked) else []:
        mark = " (`best/`)" if s.iteration == best_iteration else ""
        lines.append(f"| {s.rank} | {s.iteration}{mark} | {_fmt(s.validation_loss)} | {_fmt(s.gap)} | "
                     f"{s.reason or '—'} |")
    return lines


def _loss_lines(meta: dict, records: list[dict]) -> list[str]:
    train, val = split_series(records)
    first_train = train[0][1] if train else None
    return [
        "",
        "## Loss summary",
        "",
        f"- Training loss: {_fmt(first_train)} at the start → {_fmt(train[-1][1] if train else None)} at the end",
        f"- Lowest validation loss: {_fmt(meta['performance']['best_validation_loss'])}"
        + (f" (iteration {min(val, key=lambda p: p[1])[0]})" if val else ""),
        f"- Evaluations: {len(val)}; training reports: {len(train)}",
        *_accuracy_lines(meta, records),
        "",
        "![training dashboard](dashboard.png)",
    ]


def _accuracy_lines(meta: dict, records: list[dict]) -> list[str]:
    """DPO, ORPO: how often the chosen answer beat the rejected one on the validation pairs."""
    accuracy = val_reward_accuracy(records)
    if not accuracy:
        return []
    first, last = min(accuracy), max(accuracy)
    fused = meta["performance"].get("val_reward_accuracy")
    return [f"- Validation reward accuracy (pairs whose chosen answer wins): {_fmt(accuracy[first], 2)} at "
            f"iteration {first} → {_fmt(accuracy[last], 2)} at iteration {last}; the fused checkpoint: "
            f"{_fmt(fused, 2)}"]


def _usage_lines(model_name: str) -> list[str]:
    return [
        "",
        "## Use it with mlx-lm",
        "",
        "```bash",
        "pip install mlx-lm",
        f"mlx_lm.generate --model path/to/{model_name} --prompt \"Hello\"",
        "```",
        "",
        "```python",
        "from mlx_lm import load, generate",
        f"model, tokenizer = load(\"path/to/{model_name}\")",
        "print(generate(model, tokenizer, prompt=\"Hello\", max_tokens=100))",
        "```",
        "",
        "Files: `metadata.json` (training summary), `training_config.yaml` (the resolved config of the run), "
        "`dashboard.png` (training curves).",
        "",
    ]
