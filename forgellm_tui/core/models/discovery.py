"""Model discovery without network: workspace base models, runs and checkpoints, published models,
any folder path, and the local Hugging Face hub cache. Each entry is a :class:`ModelRef`.

Run layout: ``models/{cpt,ift,dpo,orpo}/<run>/`` holds ``adapters.safetensors`` +
``adapter_config.json`` + ``config.yaml`` (``model``/``model_name`` names the base model), ``best/``
and ``checkpoints/<iter>/`` (adapters + adapter_config.json + state.json). mlx-lm style
``0000100_adapters.safetensors`` files in a run folder are listed as checkpoints too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from forgellm_tui.core.models import files as mf
from forgellm_tui.core.models import hf_cache
from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.fsio import is_temp_name
from forgellm_tui.settings import Settings

BASE, RUN, CHECKPOINT, PUBLISHED, HF, FOLDER = "base", "run", "checkpoint", "published", "hf-cache", "folder"
KIND_LABELS = {BASE: "base model", RUN: "adapter run", CHECKPOINT: "checkpoint", PUBLISHED: "published",
               HF: "hf-cache", FOLDER: "folder"}
_ITER_FILE = re.compile(r"^(\d+)_adapters\.safetensors$")


@dataclass(frozen=True)
class ModelRef:
    """One loadable thing: a model folder, or an adapter (run/checkpoint) on top of its base model."""

    name: str
    path: Path                       # what was found: model folder, run/checkpoint folder or adapter file
    kind: str                        # BASE, RUN, CHECKPOINT, PUBLISHED, HF or FOLDER
    base_path: Path | None           # the model folder mlx_lm.load reads (None when it was not found)
    adapter_path: Path | None = None  # adapter folder or NNNNNNN_adapters.safetensors file
    size_bytes: int = 0
    is_instruct: bool | None = None
    context_length: int | None = None
    model_type: str | None = None
    run: str | None = None           # "cpt/<run>" for runs and checkpoints
    iteration: int | None = None
    val_loss: float | None = None
    error: str | None = None         # why it cannot be loaded (shown greyed out in a picker)

    @property
    def is_adapter(self) -> bool:
        return self.adapter_path is not None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def label(self) -> str:
        """One line for a picker: name, type, size."""
        size = f"{self.size_bytes / 1e6:,.1f} MB" if self.size_bytes < 1e9 else f"{self.size_bytes / 1e9:,.2f} GB"
        return f"{self.name}  [{self.kind_label}]  {size}"


# --------------------------------------------------------------------------- model folders

def _model_ref(folder: Path, kind: str, name: str) -> ModelRef:
    return ModelRef(name=name, path=folder, kind=kind, base_path=folder, size_bytes=mf.dir_size(folder),
                    is_instruct=mf.detect_instruct(folder, name), context_length=mf.context_length(folder),
                    model_type=mf.model_type(folder))


def _scan_models(root: Path, kind: str, depth: int = 2) -> list[ModelRef]:
    """Model folders under ``root`` (``root/name`` or ``root/org/name``)."""
    found: list[ModelRef] = []

    def walk(folder: Path, level: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not is_temp_name(p.name))
        except OSError:
            return
        for child in children:
            if mf.is_model_folder(child):
                found.append(_model_ref(child, kind, child.relative_to(root).as_posix()))
            elif level < depth:
                walk(child, level + 1)

    walk(root, 1)
    return found


def discover_base_models(settings: Settings) -> list[ModelRef]:
    return _scan_models(settings.base_models_dir, BASE)


def discover_published(settings: Settings) -> list[ModelRef]:
    return _scan_models(settings.published_dir, PUBLISHED)


def discover_hf_cache(cache_dir: Path) -> list[ModelRef]:
    """Models in a Hugging Face hub cache (one snapshot per repo) that MLX can load."""
    return [_model_ref(snap, HF, repo_id) for repo_id, snap in hf_cache.model_snapshots(cache_dir).items()
            if mf.is_model_folder(snap)]


# --------------------------------------------------------------------------- runs and checkpoints

def run_base_name(run_dir: Path) -> str | None:
    """The base model named by a run's config.yaml (``model`` or ``model_name``) or adapter_config.json."""
    import yaml

    for name in ("config.yaml", "config.yml"):
        try:
            data = yaml.safe_load((run_dir / name).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            for key in ("model", "model_name", "base_model"):
                if isinstance(data.get(key), str) and data[key].strip():
                    return data[key].strip()
    data = mf.read_json(run_dir / mf.ADAPTER_CONFIG) or {}
    for key in ("model", "base_model"):
        if isinstance(data.get(key), str) and data[key].strip():
            return data[key].strip()
    return None


def resolve_base_model(name: str, settings: Settings, near: Path | None = None) -> Path:
    """Find the model folder for a name from a config: a path, a workspace name or an HF repo id."""
    raw = Path(name).expanduser()
    candidates = [raw] if raw.is_absolute() else [
        settings.workspace / raw, *([near / raw] if near else []), settings.base_models_dir / raw,
        settings.models_dir / raw, settings.published_dir / raw, Path.cwd() / raw]
    if not raw.is_absolute() and name.count("/") == 1:
        snap = hf_cache.snapshot(name, settings.hf_cache)
        if snap is not None:
            candidates.append(snap)
    candidates += [settings.base_models_dir / raw.name, settings.published_dir / raw.name]
    for path in candidates:
        if mf.is_model_folder(path):
            return path
    raise ModelError(f"base model {name!r} was not found", path=near,
                     hint="put it in models/base/ or the Hugging Face cache, or fix `model:` in the run's config.yaml")


def _run_root(adapter: Path) -> Path:
    """The run folder of an adapter folder/file (run itself, best/, checkpoints/<it>/, or a file)."""
    if adapter.is_file():
        return adapter.parent
    if adapter.parent.name == "checkpoints":
        return adapter.parent.parent
    if adapter.name == "best":
        return adapter.parent
    return adapter


def adapter_config_for(adapter: Path) -> Path | None:
    """adapter_config.json for an adapter folder/file; a checkpoint without one uses its run's."""
    own = adapter / mf.ADAPTER_CONFIG if adapter.is_dir() else None
    if own is not None and own.is_file():
        return own
    run_cfg = _run_root(adapter) / mf.ADAPTER_CONFIG
    return run_cfg if run_cfg.is_file() else None


def _checkpoint_state(folder: Path) -> tuple[int | None, float | None]:
    state = mf.read_json(folder / "state.json") or {}
    it = next((state[k] for k in ("iteration", "iter", "step") if isinstance(state.get(k), int)), None)
    loss = next((float(state[k]) for k in ("val_loss", "validation_loss", "best_val_loss")
                 if isinstance(state.get(k), (int, float))), None)
    if it is None and folder.name.isdigit():
        it = int(folder.name)
    return it, loss


def adapter_ref(adapter: Path, settings: Settings, run_label: str | None = None) -> ModelRef:
    """A ModelRef for a run folder, a checkpoint folder or an ``NNNNNNN_adapters.safetensors`` file."""
    run_dir = _run_root(adapter)
    run_label = run_label or run_dir.name
    if adapter == run_dir:
        kind, name, it, loss = RUN, run_label, None, None
    else:
        kind = CHECKPOINT
        it, loss = _checkpoint_state(adapter) if adapter.is_dir() else (None, None)
        if adapter.is_file():
            it = int(_ITER_FILE.match(adapter.name).group(1)) if _ITER_FILE.match(adapter.name) else None
        tag = "best" if adapter.name == "best" else (f"{it}" if it is not None else adapter.name)
        name = f"{run_label} @ {tag}"
    base, error, instruct, ctx, mtype = None, None, None, None, None
    base_name = run_base_name(run_dir)
    try:
        if base_name is None:
            raise ModelError("the run does not name its base model", path=run_dir / "config.yaml",
                             hint="add `model: <path or repo id>` to config.yaml")
        base = resolve_base_model(base_name, settings, near=run_dir)
        instruct, ctx, mtype = mf.detect_instruct(base), mf.context_length(base), mf.model_type(base)
    except ModelError as exc:
        error = str(exc)
    if error is None and adapter_config_for(adapter) is None:
        error = str(ModelError("no adapter_config.json in the checkpoint or its run", path=adapter,
                               hint="copy adapter_config.json from the run that made it"))
    size = mf.dir_size(adapter / mf.ADAPTER_FILE) if adapter.is_dir() else mf.dir_size(adapter)
    return ModelRef(name=name, path=adapter, kind=kind, base_path=base, adapter_path=adapter, size_bytes=size,
                    is_instruct=instruct, context_length=ctx, model_type=mtype, run=run_label, iteration=it,
                    val_loss=loss, error=error)


def discover_run(run_dir: Path, settings: Settings, label: str) -> list[ModelRef]:
    """The run's final adapters, best/, checkpoints/<it>/ and NNNNNNN_adapters files, in that order."""
    found = []
    if mf.is_adapter_folder(run_dir):
        found.append(adapter_ref(run_dir, settings, label))
    if mf.is_adapter_folder(run_dir / "best"):
        found.append(adapter_ref(run_dir / "best", settings, label))
    ckpts = [p for p in (run_dir / "checkpoints").glob("*") if p.is_dir() and not is_temp_name(p.name)
             and mf.is_adapter_folder(p)]
    ckpts += [p for p in run_dir.glob("*_adapters.safetensors") if _ITER_FILE.match(p.name)]
    refs = [adapter_ref(p, settings, label) for p in ckpts]
    found += sorted(refs, key=lambda r: (r.iteration is None, r.iteration or 0, r.name))
    return found


def discover_runs(settings: Settings) -> list[ModelRef]:
    found = []
    for kind_dir in settings.run_roots:
        try:
            runs = sorted(p for p in kind_dir.iterdir() if p.is_dir() and not is_temp_name(p.name))
        except OSError:
            continue
        for run_dir in runs:
            found += discover_run(run_dir, settings, f"{kind_dir.name}/{run_dir.name}")
    return found


# --------------------------------------------------------------------------- entry points

def discover(settings: Settings, *, hf_cache: bool = True) -> list[ModelRef]:
    """Everything loadable: base models, published models, runs + checkpoints, then the HF cache."""
    refs = discover_base_models(settings) + discover_published(settings) + discover_runs(settings)
    if hf_cache:
        refs += discover_hf_cache(settings.hf_cache)
    return refs


def inspect_path(path: str | Path, settings: Settings | None = None) -> ModelRef:
    """A ModelRef for any folder (model, run, checkpoint) or adapter file; ModelError when it is none."""
    settings = settings or Settings.load()
    path = Path(path).expanduser().resolve()
    if path.is_file() and _ITER_FILE.match(path.name):
        ref = adapter_ref(path, settings)
    elif path.is_dir() and mf.is_adapter_folder(path) and not mf.is_model_folder(path):
        ref = adapter_ref(path, settings)
    else:
        if path.is_dir() and ((path / "run.json").is_file() or (path / "checkpoints").is_dir()):
            raise ModelError("this run has no saved adapters yet", path=path,
                             hint="wait for its first checkpoint, or pick one under checkpoints/")
        mf.check_model_folder(path)
        kind = FOLDER
        for root, k in ((settings.base_models_dir, BASE), (settings.published_dir, PUBLISHED),
                        (settings.hf_cache, HF)):
            if path.is_relative_to(root.resolve()):
                kind = k
        return _model_ref(path, kind, path.name)
    if ref.error:
        raise ModelError(ref.error)
    return ref


def resolve_open(settings: Settings, model_path: str | Path | None,
                 adapter_path: str | Path | None = None) -> ModelRef:
    """The ModelRef for "chat with this": a model folder, or an adapter (run or checkpoint) on a model.

    The adapter is loaded on ``model_path`` when given, else on the base model its run names. A run
    folder without saved adapters (e.g. still training) is refused with a clear message.
    """
    if adapter_path is None:
        return inspect_path(model_path, settings)
    path = Path(adapter_path).expanduser().resolve()
    if not (path.is_file() or mf.is_adapter_folder(path)):
        inspect_path(path, settings)  # raises "this run has no saved adapters yet" and the like
        raise ModelError("not an adapter folder", path=path, hint="pick a run or one of its checkpoints")
    ref = adapter_ref(path, settings)
    if model_path is not None:
        base = inspect_path(model_path, settings)
        ref = replace(ref, base_path=base.base_path, is_instruct=base.is_instruct, error=None,
                      context_length=base.context_length, model_type=base.model_type)
    return ref


def with_instruct(ref: ModelRef, is_instruct: bool) -> ModelRef:
    """The same ref with the user's base/instruct override."""
    return replace(ref, is_instruct=is_instruct)
