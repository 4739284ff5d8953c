"""Loaded (model, adapter) pairs, one or a few at a time, on one long-lived MLX thread.

MLX streams are thread-local, and MLX arrays made in a short-lived thread can crash the process
at exit. So every MLX call of the chat (load, generate, free) runs on a single
daemon thread owned by core (:class:`MLXThread`). Callers use any thread: ``ModelCache.load``
blocks until the model is ready; ``ChatSession.stream`` hands chunks over through a queue.

Loading a checkpoint never touches the run folder: the checkpoint folder is passed to mlx-lm as
``adapter_path``; a checkpoint without its own adapter_config.json, or an mlx-lm style
``0000100_adapters.safetensors`` file, is staged in a temporary folder (config copy + link).
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from forgellm_tui.core.models import files as mf
from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.models import ModelRef, adapter_config_for, inspect_path
from forgellm_tui.core.runtime import MLXThread
from forgellm_tui.settings import Settings

Progress = Callable[[str], None]


_default_thread: MLXThread | None = None


def mlx_thread() -> MLXThread:
    """The process-wide MLX thread shared by every ModelCache that is not given its own."""
    global _default_thread
    if _default_thread is None:
        _default_thread = MLXThread()
    return _default_thread


@dataclass
class LoadedModel:
    """A model (and adapter) in memory, ready to generate on the MLX thread."""

    ref: ModelRef
    model: Any
    tokenizer: Any              # mlx-lm TokenizerWrapper
    config: dict
    key: tuple
    load_seconds: float
    context_length: int | None

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "has_chat_template", False))


def _key(ref: ModelRef) -> tuple:
    adapter = None
    if ref.adapter_path is not None:
        f = ref.adapter_path if ref.adapter_path.is_file() else ref.adapter_path / mf.ADAPTER_FILE
        st = f.stat()
        adapter = (str(ref.adapter_path.resolve()), st.st_mtime_ns, st.st_size)
    return (str(Path(ref.base_path).resolve()), adapter)


def check_adapter(base: Path, adapter: Path) -> tuple[Path, Path]:
    """Check an adapter against its base model from file headers only; return (weights, config)."""
    weights = adapter if adapter.is_file() else adapter / mf.ADAPTER_FILE
    config_path = adapter_config_for(adapter)
    if config_path is None:
        raise ModelError("no adapter_config.json next to the adapter or in its run folder", path=adapter,
                         hint="copy adapter_config.json from the run that made it")
    cfg = mf.read_json(config_path)
    if cfg is None:
        raise ModelError("adapter_config.json is not valid JSON", path=config_path, hint="restore it from the run")
    kind = cfg.get("fine_tune_type", "lora")
    params = cfg.get("lora_parameters") or {}
    if kind not in ("lora", "dora", "full") or not isinstance(cfg.get("num_layers"), int) or (
            kind != "full" and not {"rank", "scale"} <= set(params)):
        raise ModelError("adapter_config.json lacks fine_tune_type/num_layers/lora_parameters(rank, scale)",
                         path=config_path, hint="use the adapter_config.json written by the training run")
    shapes = mf.tensor_shapes(weights)
    if not shapes:
        raise ModelError("the adapter file holds no tensors", path=weights, hint="pick another checkpoint")
    base_shapes: dict[str, tuple] = {}
    for f in mf.weight_files(base):
        base_shapes.update(mf.tensor_shapes(f))
    for name, shape in shapes.items():
        prefix, _, leaf = name.rpartition(".")
        w = base_shapes.get(prefix + ".weight")
        bad = None
        if leaf == "lora_a" and kind != "full":
            if len(shape) == 2 and shape[1] != params["rank"]:
                bad = f"{name} has rank {shape[1]} but adapter_config.json says {params['rank']}"
            elif w is not None and prefix + ".scales" not in base_shapes and len(w) == 2 and shape[0] != w[1]:
                bad = f"{name} expects input size {shape[0]}, the base model has {w[1]}"
        elif leaf == "lora_b" and w is not None and prefix + ".scales" not in base_shapes and len(w) == 2:
            bad = f"{name} has output size {shape[-1]}, the base model has {w[0]}" if shape[-1] != w[0] else None
        elif kind == "full" and name in base_shapes and tuple(base_shapes[name]) != tuple(shape):
            bad = f"{name} has shape {shape}, the base model has {base_shapes[name]}"
        if bad:
            raise ModelError(f"adapter does not match the base model: {bad}", path=adapter,
                             hint=f"pick the base model the adapter was trained on (now {base.name})")
    return weights, config_path


def _friendly(exc: Exception, ref: ModelRef) -> ModelError:
    if isinstance(exc, ModelError):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "not supported" in text and "Model type" in text:
        return ModelError(f"mlx-lm cannot run this architecture ({text})", path=ref.base_path,
                          hint="upgrade mlx-lm or pick another model")
    if "incompatible tensors" in text or "adapter" in text.lower():
        return ModelError(f"adapter does not match the base model ({text})", path=ref.adapter_path,
                          hint="pick the base model the adapter was trained on")
    return ModelError(f"could not load the model ({type(exc).__name__}: {text})",
                      path=ref.adapter_path or ref.base_path, hint="check the files, or pick another model")


class ModelCache:
    """Keeps up to ``capacity`` (model, adapter) pairs loaded; one of them is :attr:`current`.

    Loading another pair when the cache is full unloads the least recently used one first and frees
    its memory; loading a pair that is already in the cache only makes it current. With the default
    capacity of 1, switching unloads the previous model. On a failed load the models unloaded to make
    room are loaded again, so the app stays usable.
    """

    def __init__(self, thread: MLXThread | None = None, settings: Settings | None = None, capacity: int = 1):
        if capacity < 1:
            raise ValueError("a model cache holds at least one model")
        self.thread = thread or mlx_thread()
        self.settings = settings
        self.capacity = capacity
        self._current: LoadedModel | None = None
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()  # least recently used first
        self._staged: dict[tuple, Path] = {}  # temporary adapter folders, removed with their model
        self._listeners: dict[str, list[weakref.ref]] = {"switch": [], "unload": []}

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    @property
    def models(self) -> list[LoadedModel]:
        """Every model in memory, the least recently used first."""
        return list(self._models.values())

    def on_unload(self, method: Callable[[], None]) -> None:
        """Call a bound method (held weakly) on the MLX thread whenever a model is unloaded."""
        self._listeners["unload"].append(weakref.WeakMethod(method))

    def on_switch(self, method: Callable[[], None]) -> None:
        """Call a bound method (held weakly) in the caller's thread before another model becomes current."""
        self._listeners["switch"].append(weakref.WeakMethod(method))

    def _notify(self, event: str) -> None:
        for listener in list(self._listeners[event]):
            method = listener()
            if method is None:
                self._listeners[event].remove(listener)
            else:
                method()

    def load(self, ref: ModelRef | str | Path, progress: Progress | None = None) -> LoadedModel:
        """Make ``ref`` (a ModelRef or any folder path) current, loading it unless it is in the cache. Blocks."""
        if not isinstance(ref, ModelRef):
            ref = inspect_path(ref, self.settings)
        if ref.error or ref.base_path is None:
            raise ModelError(ref.error or "the base model of this adapter was not found", path=ref.path)
        progress = progress or (lambda _msg: None)
        progress("checking files")
        mf.check_model_folder(ref.base_path)
        for f in mf.weight_files(ref.base_path):
            mf.safetensors_header(f)
        if ref.adapter_path is not None:
            check_adapter(ref.base_path, ref.adapter_path)
        key = _key(ref)
        if self._current is not None and self._current.key == key:
            return self._current
        self._notify("switch")  # e.g. chat sessions stop generating, so the load does not wait
        return self.thread.call(self._switch, ref, key, progress)

    def unload(self) -> None:
        """Free every model in the cache (and the prompt caches of sessions using them)."""
        self._notify("switch")
        self.thread.call(self._evict, 0)

    # ----------------------------------------------------------------- on the MLX thread

    def _switch(self, ref: ModelRef, key: tuple, progress: Progress) -> LoadedModel:
        if key in self._models:
            self._models.move_to_end(key)
            self._current = self._models[key]
            progress("ready")
            return self._current
        previous = self._current.key if self._current is not None else None
        evicted = self._evict(self.capacity - 1)
        try:
            loaded = self._load_here(ref, key, progress)
        except Exception as exc:
            error = _friendly(exc, ref)
            self._remove_staged(key)
            _free_memory()
            self._restore(evicted, previous, progress)
            raise error from exc
        self._models[key] = self._current = loaded
        progress("ready")
        return loaded

    def _restore(self, evicted: list[ModelRef], previous: tuple | None, progress: Progress) -> None:
        """After a failed load: load again what was unloaded to make room; the previous model is current again."""
        for ref in evicted:
            key = _key(ref)
            progress("restoring the previous model")
            try:
                self._models[key] = self._load_here(ref, key, lambda _m: None)
            except Exception:
                self._remove_staged(key)
        self._current = self._models.get(previous) if previous is not None else None

    def _stage(self, ref: ModelRef, key: tuple) -> Path | None:
        adapter = ref.adapter_path
        if adapter is None:
            return None
        if adapter.is_dir() and (adapter / mf.ADAPTER_CONFIG).is_file():
            return adapter
        weights, config = check_adapter(ref.base_path, adapter)
        staged = self._staged[key] = Path(tempfile.mkdtemp(prefix="forgellm-adapter-"))
        shutil.copyfile(config, staged / mf.ADAPTER_CONFIG)
        try:
            os.symlink(weights.resolve(), staged / mf.ADAPTER_FILE)
        except OSError:
            shutil.copyfile(weights, staged / mf.ADAPTER_FILE)
        return staged

    def _load_here(self, ref: ModelRef, key: tuple, progress: Progress) -> LoadedModel:
        from mlx_lm.tuner.utils import load_adapters
        from mlx_lm.utils import load_model, load_tokenizer

        t0 = time.perf_counter()
        progress(f"loading {ref.base_path.name}")
        model, config = load_model(Path(ref.base_path))
        adapter_dir = self._stage(ref, key)
        if adapter_dir is not None:
            progress(f"applying adapter {ref.name}")
            model = load_adapters(model, str(adapter_dir))
            model.eval()
        progress("loading tokenizer")
        tokenizer = load_tokenizer(Path(ref.base_path), {}, eos_token_ids=config.get("eos_token_id", None))
        return LoadedModel(ref=ref, model=model, tokenizer=tokenizer, config=config, key=key,
                           load_seconds=time.perf_counter() - t0,
                           context_length=ref.context_length or mf.context_length(Path(ref.base_path)))

    def _evict(self, keep: int) -> list[ModelRef]:
        """Unload the least recently used models until ``keep`` are left; the refs of those unloaded."""
        evicted: list[ModelRef] = []
        while len(self._models) > keep:
            key, loaded = self._models.popitem(last=False)
            if self._current is loaded:
                self._current = None
            evicted.append(loaded.ref)
            del loaded
            self._notify("unload")
            self._remove_staged(key)
        if evicted:
            _free_memory()
        return evicted

    def _remove_staged(self, key: tuple) -> None:
        staged = self._staged.pop(key, None)
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def _free_memory() -> None:
    """Collect the Python objects of unloaded models, then hand their MLX buffers back (on the MLX thread)."""
    gc.collect()
    if "mlx.core" in sys.modules:
        sys.modules["mlx.core"].clear_cache()
