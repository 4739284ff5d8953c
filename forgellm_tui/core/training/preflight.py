"""Checks that run before anything is written: model, data, sizes, output folder, and what a resume
may change.

Everything a user can get wrong is refused here with a message naming the key or file and the fix,
before a model is trained or a run folder is written. ``prepare.py`` calls these checks on its way
from a config to an open run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.config import FIELDS, SHAPE_FIELDS, ConfigFieldError, TrainingConfig
from forgellm_tui.core.errors import ForgeError, ModelError
from forgellm_tui.core.runs import CONFIG, STATE, read_state
from forgellm_tui.core.training.data import DataScan, scan_data
from forgellm_tui.core.training.pair_data import check_data_kind, read_pairs
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
    from forgellm_tui.core.models import check_model_folder

    raw = Path(cfg.model).expanduser()
    candidates = [raw] if raw.is_absolute() else [settings.workspace / raw, settings.base_models_dir / raw]
    if not raw.is_absolute() and cfg.model.count("/") == 1 and not (settings.workspace / raw).exists():
        from forgellm_tui.core.models import hf_cache

        snap = hf_cache.snapshot(cfg.model, settings.hf_cache)
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
    scan, train_rows, valid_rows = _scan(cfg, data_dir)
    if not cfg.packing and cfg.batch_size > scan.train_rows:
        raise _error(cfg, {"batch_size": f"{cfg.batch_size} is larger than the {scan.train_rows} training "
                                              f"examples in {data_dir / 'train.jsonl'} — use at most {scan.train_rows}"})
    return Plan(cfg, settings, model_path, data_dir, scan, train_rows, valid_rows)


def _scan(cfg: TrainingConfig, data_dir: Path) -> tuple[DataScan, list, list]:
    """The data folder checked for the training type: rows of text or chats, or preference pairs."""
    if data_dir.is_dir():
        check_data_kind(cfg, data_dir)
    if not cfg.is_preference:
        return scan_data(data_dir, cfg)
    train, valid = read_pairs(data_dir)
    return DataScan(data_dir, "preference", len(train), len(valid), None, None), train, valid


def _check_adapter_file(cfg: TrainingConfig, path: Path) -> None:
    """``resume_adapter_file`` must be safetensors whose LoRA rank is the config's (header only)."""
    from forgellm_tui.core.models import tensor_shapes

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


# --------------------------------------------------------------------------- what a resume may change

#: keys a resume cannot change, and why (the run keeps its folder; nothing else depends on a checkpoint)
FOLDER_KEYS = {"name": "the run keeps its folder name", "run_dir": "the run keeps its folder",
               "output_dir": "the run keeps its folder", "training_type": "the run's folder is under models/"
                                                                          "<training_type>"}
#: keys the checkpoint's saved state depends on
CHECKPOINT_KEYS = {
    **{key: "it changes the shape of the trained weights" for key in SHAPE_FIELDS},
    "data": "the checkpoint's data position counts rows of the run's data",
    "packing": "the checkpoint's data position counts rows of the run's data",
    "text_feature": "the run's data is read with it", "chat_feature": "the run's data is read with it",
    "prompt_feature": "the run's data is read with it", "completion_feature": "the run's data is read with it",
    "optimizer": "the checkpoint holds this optimizer's state",
    "resume_adapter_file": "a resume continues from the checkpoint's weights",
}


def check_shape(cfg: TrainingConfig, state: dict, checkpoint: Path) -> None:
    """A checkpoint's weights fit only the shape they were trained with (``state.json`` → ``shape``)."""
    saved = state.get("shape") or {}
    changed = {k: (saved[k], getattr(cfg, k)) for k in SHAPE_FIELDS if k in saved and saved[k] != getattr(cfg, k)}
    if changed:
        key, (old, new) = next(iter(changed.items()))
        raise ConfigFieldError({key: f"the run was trained with {key}={old!r}, this config says {new!r}; a resume "
                                     "cannot change the model's shape — keep the run's value or start a new run"},
                               path=checkpoint)


def config_changes(before: TrainingConfig | None, after: TrainingConfig) -> dict[str, tuple]:
    """``{key: (old, new)}`` for every setting that differs (in field order)."""
    if before is None:
        return {}
    return {name: (getattr(before, name), getattr(after, name)) for name in FIELDS
            if getattr(before, name) != getattr(after, name)}


def check_resume_changes(changes: dict[str, tuple], run_dir: Path, checkpoint: Path | None, packing: bool) -> None:
    """ConfigFieldError naming the first key a resume changes (``{key: (old, new)}``) that cannot change.

    The folder keys never change; the keys a checkpoint's saved state depends on cannot change when
    the resume continues from a checkpoint.
    """
    fixed = {**FOLDER_KEYS, **(CHECKPOINT_KEYS if checkpoint is not None else {})}
    if checkpoint is not None and packing:
        fixed["max_seq_length"] = "packed rows are cut at max_seq_length; the checkpoint's data position counts them"
    for key, (old, new) in changes.items():
        if key in fixed:
            raise ConfigFieldError({key: f"cannot change on resume ({old!r} -> {new!r}): {fixed[key]} — keep "
                                         f"{old!r}, or start a new run"}, path=Path(run_dir) / CONFIG)
