"""Checks before any work (model, data, output folder) and the pre-run estimate.

Everything a user can get wrong is refused here with a message naming the key or file and the fix,
before a model is loaded or a run folder is written.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.config.model import ConfigFieldError
from forgellm_tui.core.config.schema import TrainingConfig
from forgellm_tui.core.distributed.hosts import world_size as ranks_for
from forgellm_tui.core.errors import ForgeError, ModelError
from forgellm_tui.core.tokens.store import load_or_tokenize
from forgellm_tui.core.training.data import DataScan, pack, scan_data
from forgellm_tui.core.training.setup import is_quantized, load_tokenizer, num_model_layers


def _error(cfg: TrainingConfig, errors: dict[str, str]) -> ConfigFieldError:
    return ConfigFieldError(errors, path=cfg.source)


@dataclass
class Plan:
    cfg: TrainingConfig
    settings: object
    model_path: Path
    data_dir: Path
    scan: DataScan
    train_rows: list
    valid_rows: list
    tokenizer: object = None  # loaded by ``check_model``; training reuses it


def settings_for(cfg: TrainingConfig):
    from forgellm_tui.settings import Settings

    return Settings.load(cfg.workspace) if cfg.workspace else Settings.load()


def resolve_model(cfg: TrainingConfig, settings) -> Path:
    """The local model folder for ``model:``; ConfigFieldError(model) when it is missing or not a model."""
    from forgellm_tui.core.models.files import check_model_folder

    raw = Path(cfg.model).expanduser()
    candidates = [raw] if raw.is_absolute() else [settings.workspace / raw, settings.base_models_dir / raw]
    if not raw.is_absolute() and cfg.model.count("/") == 1 and not (settings.workspace / raw).exists():
        from forgellm_tui.core.models.hf_cache import snapshot

        snap = snapshot(cfg.model, settings.hf_cache)
        if snap is not None:
            candidates.append(snap)
    for path in candidates:
        if path.is_dir():
            try:
                check_model_folder(path)
            except ModelError as exc:
                raise _error(cfg, {"model": _model_problem(path, exc)}) from None
            return path
    hint = ("it is not in the Hugging Face cache either; download it first "
            f"(huggingface-cli download {cfg.model})" if cfg.model.count("/") == 1 else
            "use a folder with config.json + *.safetensors, e.g. models/base/forge-tiny")
    raise _error(cfg, {"model": f"{cfg.model!r} not found (looked in {candidates[0]}) — {hint}"})


def _model_problem(folder: Path, exc: ModelError) -> str:
    """'<folder> is not a usable model: <file>: <problem> — <fix>' (the file only when it is not the folder)."""
    where = f"{Path(exc.path).name}: " if exc.path and Path(exc.path) != folder else ""
    return f"{folder} is not a usable model: {where}{exc.message}" + (f" — {exc.hint}" if exc.hint else "")


def resolve_data(cfg: TrainingConfig, settings) -> Path:
    raw = Path(cfg.data).expanduser()
    if raw.is_absolute():
        return raw
    direct = settings.workspace / raw
    if not direct.exists() and len(raw.parts) == 1 and (settings.data_dir / raw).exists():
        return settings.data_dir / raw
    return direct


def iterations_for(cfg: TrainingConfig, rows: int) -> int:
    """max_iterations, or the iterations ``epochs`` passes need."""
    if cfg.epochs is None:
        return cfg.max_iterations
    per_epoch = (rows // cfg.batch_size) / cfg.grad_accumulation_steps
    return max(1, math.ceil(cfg.epochs * per_epoch))


def preflight(cfg: TrainingConfig, settings=None) -> Plan:
    """Validate model, data and sizes; returns the plan (no model loaded)."""
    settings = settings or settings_for(cfg)
    model_path = resolve_model(cfg, settings)
    if cfg.fine_tune_type == "full" and is_quantized(model_path):
        raise _error(cfg, {"fine_tune_type": "full fine-tuning needs a non-quantized model "
                                                  "(this one is quantized) — use lora or dora (QLoRA)"})
    layers = num_model_layers(model_path)
    if layers is not None and cfg.num_layers > layers:
        raise _error(cfg, {"num_layers": f"the model has {layers} layers, got {cfg.num_layers} (use -1 for all)"})
    if cfg.resume_adapter_file:
        path = Path(cfg.resume_adapter_file).expanduser()
        path = path if path.is_absolute() else settings.workspace / path
        if path.is_dir():
            path = path / "adapters.safetensors"
        if not path.is_file():
            raise _error(cfg, {"resume_adapter_file": f"{path} does not exist"})
        _check_adapter_file(cfg, path)
    data_dir = resolve_data(cfg, settings)
    scan, train_rows, valid_rows = scan_data(data_dir, cfg)
    if not cfg.packing and cfg.batch_size > scan.train_rows:
        raise _error(cfg, {"batch_size": f"{cfg.batch_size} is larger than the {scan.train_rows} training "
                                              f"examples in {data_dir / 'train.jsonl'} — use at most {scan.train_rows}"})
    return Plan(cfg, settings, model_path, data_dir, scan, train_rows, valid_rows)


def _check_adapter_file(cfg: TrainingConfig, path: Path) -> None:
    """``resume_adapter_file`` must be safetensors whose LoRA rank is the config's (header only)."""
    from forgellm_tui.core.models.files import tensor_shapes

    try:
        shapes = tensor_shapes(path)
    except ModelError as exc:
        raise _error(cfg, {"resume_adapter_file": f"{path} is not an adapter file: {exc.message} — point it at "
                                                  "a run's adapters.safetensors"}) from None
    if cfg.fine_tune_type == "full":
        return
    ranks = {shape[-1] for name, shape in shapes.items() if name.endswith(".lora_a") and shape}
    if ranks and ranks != {cfg.lora_rank}:
        raise _error(cfg, {"resume_adapter_file": f"{path} holds rank-{min(ranks)} adapters but lora_rank is "
                                                  f"{cfg.lora_rank} — set lora_parameters.rank: {min(ranks)}"})


def check_resume_state(cfg: TrainingConfig, plan: Plan, checkpoint: Path | None) -> None:
    """The data position in a checkpoint's state.json must fit the data (ForgeError naming the key)."""
    if checkpoint is None:
        return
    from forgellm_tui.core.runs.checkpoints import STATE, read_state

    state = read_state(checkpoint)
    pos = state.get("data") if state.get("data") is not None else {}
    where = checkpoint / STATE
    hint = "the file was edited or belongs to other data: resume from an older checkpoint folder"
    if not isinstance(pos, dict):
        raise ForgeError(f"data must be a mapping of epoch and index, got {pos!r}", path=where, hint=hint)
    for key, least in (("epoch", 0), ("index", 0), ("batch_size", 1)):
        value = pos.get(key, None if key == "batch_size" else 0)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
            raise ForgeError(f"data.{key} is {value!r}, not a whole number ≥ {least}", path=where, hint=hint)
    for key in ("trained_tokens", "elapsed_seconds", "schedule_steps"):
        value = state.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            raise ForgeError(f"{key} is {value!r}, not a number ≥ 0", path=where, hint=hint)
    index = pos.get("index", 0) * (pos.get("batch_size") or cfg.batch_size) // cfg.batch_size
    batches = plan.scan.train_rows // cfg.batch_size
    if not cfg.packing and index > batches:
        raise ForgeError(f"data.index is {pos.get('index')}, but an epoch of {plan.scan.train_rows:,} training rows "
                         f"has only {batches:,} batches of {cfg.batch_size}", path=where, hint=hint)


def check_model(plan: Plan) -> None:
    """Build the model lazily and load its tokenizer (kept on the plan): before a run folder is made."""
    from forgellm_tui.core.training.setup import check_model_loads

    cfg = plan.cfg
    try:
        check_model_loads(plan.model_path, cfg)
    except ModelError as exc:
        raise _error(cfg, {"model": _model_problem(plan.model_path, exc)}) from None
    try:
        plan.tokenizer = load_tokenizer(plan.model_path, cfg)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds for a broken tokenizer
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _error(cfg, {"model": f"the tokenizer of {plan.model_path} cannot be loaded ({first}) — copy "
                                    "tokenizer.json and tokenizer_config.json from the model's repository"}) from None


def check_output(cfg: TrainingConfig, path: Path) -> None:
    """The run folder must be creatable (ConfigFieldError on output_dir otherwise); creates nothing.

    The nearest existing folder above it must be writable; the run folder and its missing parents
    are made by ``RunFolder.create``, which removes them again when the run cannot start.
    """
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = ("is a file, not a folder" if not existing.is_dir() else
               "is not writable" if not os.access(existing, os.W_OK | os.X_OK) else None)
    if problem:
        raise _error(cfg, {"output_dir": f"cannot write runs to {path.parent}: {existing} {problem} — "
                                              "choose a writable output_dir"})


@dataclass(frozen=True)
class Estimate:
    """What a run will cover, shown before it starts."""

    data_format: str
    train_examples: int          # training rows (after packing when packing is on)
    valid_examples: int
    train_tokens: int
    valid_tokens: int
    tokens_exact: bool           # False when counted from the lines' metadata
    steps_per_epoch: float       # optimizer steps per pass over the training rows
    max_iterations: int
    epochs: float                # passes over the data the run covers
    tokens_per_iteration: float
    checkpoints: int
    validations: int
    truncated_rows: int          # rows longer than max_seq_length (cut)
    world_size: int = 1          # ranks of a distributed run (each trains batch_size / world_size rows)

    def lines(self) -> list[str]:
        ranks = ([f"ranks: {self.world_size} (data-parallel), {self.tokens_per_iteration / self.world_size:,.0f} "
                  "tokens per rank per iteration"] if self.world_size > 1 else [])
        return ranks + [f"data: {self.train_examples:,} training rows ({self.data_format}), {self.valid_examples:,} validation",
                f"tokens: {self.train_tokens:,} train, {self.valid_tokens:,} valid{'' if self.tokens_exact else ' (from metadata)'}",
                f"steps per epoch: {self.steps_per_epoch:,.1f}; {self.max_iterations:,} iterations = {self.epochs:.2f} epochs",
                f"checkpoints: {self.checkpoints}; validations: {self.validations}"]


def count_events(every: int, total: int, at_start: bool = False) -> int:
    return (1 if at_start else 0) + total // every + (1 if total % every else 0)


def make_estimate(plan: Plan, train_rows: int, valid_rows: int, train_tokens: int, valid_tokens: int,
                  exact: bool, truncated: int) -> Estimate:
    cfg = plan.cfg
    per_epoch = (train_rows // cfg.batch_size) / cfg.grad_accumulation_steps
    iters = iterations_for(cfg, train_rows)
    has_val = valid_rows > 0 and cfg.val_batches != 0
    avg = train_tokens / max(train_rows, 1)
    return Estimate(plan.scan.format, train_rows, valid_rows, train_tokens, valid_tokens, exact, per_epoch, iters,
                    iters / per_epoch if per_epoch else 0.0, avg * cfg.effective_batch,
                    count_events(cfg.save_every, iters), count_events(cfg.steps_per_eval, iters, True) if has_val else 0,
                    truncated, ranks_for(cfg))


def estimate(config: TrainingConfig) -> Estimate:
    """Dataset tokens, steps per epoch, epochs covered, checkpoints and validations (no model loaded)."""
    plan = preflight(config)
    cfg, scan = plan.cfg, plan.scan
    if scan.train_tokens is not None and scan.valid_tokens is not None and not cfg.packing:
        return make_estimate(plan, scan.train_rows, scan.valid_rows, scan.train_tokens, scan.valid_tokens, False, 0)
    tokenizer = load_tokenizer(plan.model_path, cfg)
    train, valid = load_or_tokenize(scan.folder, plan.model_path, plan.train_rows, plan.valid_rows, scan.format,
                                    tokenizer, cfg)
    truncated = int((train.lengths > cfg.max_seq_length).sum())
    if cfg.packing:
        train, valid = pack(train, cfg.max_seq_length), pack(valid, cfg.max_seq_length)
    return make_estimate(plan, len(train), len(valid), train.tokens, valid.tokens, True, truncated)
