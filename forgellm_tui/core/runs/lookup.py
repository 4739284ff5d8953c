"""Find a run's checkpoints and its base model on disk (read-only helpers for publish, chat, delete).

Run folder layout: ``checkpoints/<iteration:07d>/`` and ``best/``. A checkpoint is
usable when the engine's :func:`checkpoints.is_complete` says so (adapters, adapter_config and
state present, not a temporary name); anything else is reported as incomplete, never published.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core.errors import ForgeError, ModelError
from forgellm_tui.settings import RUN_FOLDERS


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint folder of a run."""

    run_dir: Path
    path: Path
    iteration: int
    label: str  # "0000050" or "best"

    @property
    def is_best(self) -> bool:
        return self.label == "best"


def missing_files(folder: Path) -> list[str]:
    """The files a complete checkpoint needs that ``folder`` lacks."""
    return [name for name in ck.COMPLETE if not (folder / name).is_file()]


def _state_iteration(folder: Path) -> int | None:
    try:
        return ck.read_state(folder)["iteration"]
    except ForgeError:
        return None


def list_checkpoints(run_dir: str | Path) -> list[Checkpoint]:
    """Complete numbered checkpoints, oldest first (temporary/incomplete folders are left out)."""
    run_dir = Path(run_dir)
    return [Checkpoint(run_dir, folder, it, folder.name) for it, folder in ck.list_complete(run_dir)]


def incomplete_checkpoints(run_dir: str | Path) -> list[tuple[Path, list[str]]]:
    """Numbered checkpoint folders (and ``best/``) that are missing files, with what is missing."""
    run_dir = Path(run_dir)
    root = run_dir / "checkpoints"
    found = []
    children = sorted(root.iterdir()) if root.is_dir() else []
    for child in [c for c in children if c.is_dir() and c.name.isdigit()] + [run_dir / "best"]:
        if child.is_dir() and not ck.is_complete(child):
            found.append((child, missing_files(child)))
    return found


def best_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """``best/`` when it is complete (its iteration comes from its state.json)."""
    best = Path(run_dir) / "best"
    if not ck.is_complete(best):
        return None
    it = _state_iteration(best)
    return Checkpoint(Path(run_dir), best, it if it is not None else -1, "best")


def ranked_checkpoints(run_dir: str | Path, records: list[dict]) -> list:
    """Every complete checkpoint of the run (numbered ones and ``best/``) in recommended order
    (held-out perplexity first where ``forgellm-tui eval`` measured it, see ``ranking``).

    One ranking for the Checkpoints screen, ``publish`` and the model card, so they agree.
    """
    from forgellm_tui.core.runs.evals import eval_scores
    from forgellm_tui.core.runs.ranking import rank_checkpoints

    best = best_checkpoint(run_dir)
    iterations = [c.iteration for c in list_checkpoints(run_dir)]
    if best is not None and best.iteration >= 0:
        iterations.append(best.iteration)
    return rank_checkpoints(records, iterations, evals=eval_scores(run_dir))


def _recommended(run_dir: Path, checkpoints: list[Checkpoint]) -> Checkpoint:
    """Rank 1 of :func:`ranked_checkpoints`: its numbered folder, else ``best/`` when only that holds it."""
    from forgellm_tui.core.runs.reader import read_metrics

    ranked = ranked_checkpoints(run_dir, read_metrics(run_dir)[0])
    if not ranked:
        raise ForgeError("run has no complete checkpoint", path=run_dir / "checkpoints",
                         hint="train until a checkpoint is saved (save_every) or save one from the Training screen")
    top = ranked[0].iteration
    best = best_checkpoint(run_dir)
    return next((c for c in checkpoints if c.iteration == top), best)


def _incomplete_error(folder: Path, run_dir: Path) -> ForgeError:
    have = ", ".join(str(c.iteration) for c in list_checkpoints(run_dir)) or "none"
    return ForgeError(f"checkpoint is incomplete (missing {', '.join(missing_files(folder))})", path=folder,
                      hint=f"it was not fully written; pick another checkpoint (complete: {have})")


def select_checkpoint(run_dir: str | Path, which: str | int = "best") -> Checkpoint:
    """``best`` (lowest validation loss: ``best/``; the latest when the run has none yet), ``recommended``
    (rank 1 of :func:`ranked_checkpoints`), ``latest``, or an iteration number."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ForgeError("run folder not found", path=run_dir, hint=f"pick a folder under {RUN_FOLDERS}")
    checkpoints = list_checkpoints(run_dir)
    which = str(which).strip().lower()
    if which == "best":
        best = best_checkpoint(run_dir)
        if best is not None:
            return best
        if (run_dir / "best").is_dir():
            raise _incomplete_error(run_dir / "best", run_dir)
        which = "latest"
    if which == "recommended":
        return _recommended(run_dir, checkpoints)
    if which == "latest":
        if not checkpoints:
            raise ForgeError("run has no complete checkpoint", path=run_dir / "checkpoints",
                             hint="train until a checkpoint is saved (save_every) or save one from the Training screen")
        return checkpoints[-1]
    try:
        wanted = int(which)
    except ValueError:
        raise ForgeError(f"unknown checkpoint '{which}'", path=run_dir,
                         hint="use best, recommended, latest or an iteration number")
    for ckpt in checkpoints:
        if ckpt.iteration == wanted:
            return ckpt
    folder = ck.checkpoint_dir(run_dir, wanted)
    if folder.is_dir():
        raise _incomplete_error(folder, run_dir)
    have = ", ".join(str(c.iteration) for c in checkpoints) or "none"
    raise ForgeError(f"no checkpoint at iteration {wanted}", path=run_dir / "checkpoints",
                     hint=f"available: {have}")


def check_adapter(folder: Path) -> None:
    """ForgeError naming the file when a checkpoint's adapter files cannot be fused (headers only).

    ``adapters.safetensors`` must be a safetensors file and ``adapter_config.json`` a JSON object
    whose LoRA rank is the rank of the weights.
    """
    from forgellm_tui.core.models import tensor_shapes

    hint = "pick another checkpoint (--checkpoint latest or an iteration number)"
    weights = folder / ck.ADAPTERS
    try:
        if weights.stat().st_size == 0:
            raise ForgeError("adapter file is empty (0 bytes)", path=weights, hint=hint)
        shapes = tensor_shapes(weights)
    except ModelError as exc:
        raise ForgeError(exc.message, path=weights, hint=hint) from None
    config_path = folder / ck.ADAPTER_CONFIG
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ForgeError(f"not readable JSON ({exc})", path=config_path, hint=hint) from None
    if not isinstance(config, dict):
        raise ForgeError("not a JSON object", path=config_path, hint=hint)
    params = config.get("lora_parameters") if config.get("fine_tune_type", "lora") != "full" else None
    rank = params.get("rank") if isinstance(params, dict) else None
    if params is not None and not isinstance(rank, int):
        raise ForgeError(f"lora_parameters.rank is {rank!r}, not a whole number", path=config_path, hint=hint)
    found = sorted({shape[-1] for name, shape in shapes.items() if name.endswith(".lora_a") and shape})
    if rank is not None and found and found != [rank]:
        raise ForgeError(f"says rank {rank}, but {ck.ADAPTERS} holds rank-{found[0]} weights", path=config_path,
                         hint=f"set lora_parameters.rank to {found[0]} in it, or {hint}")


def read_run_config(run_dir: str | Path) -> dict:
    """The run's resolved config (``config.yaml``), or ``{}`` when missing or unreadable."""
    import yaml

    try:
        data = yaml.safe_load((Path(run_dir) / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def settings_near(run_dir: Path, hf_cache: Path | None = None):
    """Settings of the workspace holding ``<ws>/models/<cpt|ift>/<run>`` (else the current one)."""
    from forgellm_tui.settings import Settings

    guess = Path(run_dir).resolve().parent.parent.parent
    settings = Settings.load(guess if (guess / "models").is_dir() else None)
    return dataclasses.replace(settings, hf_cache=Path(hf_cache)) if hf_cache is not None else settings


def base_model_names(run_dir: Path) -> list[str]:
    """Names of the base model, most trusted first: config.yaml's ``model``, then adapter_config.json's."""
    names = []
    cfg = read_run_config(run_dir)
    for key in ("model", "model_name", "base_model"):
        if isinstance(cfg.get(key), str) and cfg[key].strip():
            names.append(cfg[key].strip())
    try:
        adapter = json.loads((run_dir / ck.ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        adapter = {}
    for key in ("base_model", "model"):
        if isinstance(adapter, dict) and isinstance(adapter.get(key), str) and adapter[key].strip():
            names.append(adapter[key].strip())
    return list(dict.fromkeys(names))


def resolve_base_model(run_dir: str | Path, hf_cache: Path | None = None, settings=None) -> Path:
    """The local folder of the run's base model; ModelError when it is no longer present or broken."""
    from forgellm_tui.core.models import check_model_folder, resolve_base_model as find_model

    run_dir = Path(run_dir)
    names = base_model_names(run_dir)
    if not names:
        raise ModelError("run does not name its base model", path=run_dir / "config.yaml",
                         hint="add `model: PATH` to the run's config.yaml")
    settings = settings or settings_near(run_dir, hf_cache)
    for name in names:
        try:
            path = find_model(name, settings, near=run_dir)
        except ModelError:
            continue
        check_model_folder(path)
        return path
    raise ModelError(f"base model '{names[0]}' is no longer present", path=run_dir / "config.yaml",
                     hint="restore the model folder (or its Hugging Face cache entry), or point `model:` in "
                          "config.yaml at it")

