"""Facts read from model files without loading them: config, weights headers, chat template, size.

Nothing here imports MLX or transformers, so the model list can be built fast on any thread.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Any

from forgellm_tui.core.errors import ModelError

ADAPTER_FILE = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json", "spiece.model")
#: config.json keys that hold the context length, most specific first
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx",
                "max_seq_len")
BASE_WORDS = {"base", "pt", "pretrained", "pretrain"}
INSTRUCT_WORDS = {"instruct", "chat", "it", "sft", "dpo", "rlhf", "orpo", "assistant", "hermes"}


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def weight_files(folder: Path) -> list[Path]:
    """The model weight files (``*.safetensors``) of a folder, adapters excluded."""
    try:
        return sorted(p for p in folder.glob("*.safetensors") if "adapters" not in p.name)
    except OSError:
        return []


def is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and bool(weight_files(folder))


def is_adapter_folder(folder: Path) -> bool:
    return (folder / ADAPTER_FILE).is_file()


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor name -> dtype/shape/offsets).

    Raises ModelError when the file is truncated or not safetensors, so a corrupt download is
    reported before MLX tries to read it.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ValueError("file is shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n <= 0 or 8 + n > size or n > 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + n + end > size:
            raise ValueError(f"file is truncated ({size} bytes, needs {8 + n + end})")
        return header
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelError(f"corrupt or unreadable safetensors file ({exc})", path=path,
                         hint="copy or download the file again") from exc


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    header = safetensors_header(path)
    return {k: tuple(v.get("shape", ())) for k, v in header.items() if k != "__metadata__"}


def dir_size(path: Path) -> int:
    """Bytes used by the files under ``path`` (symlinks followed, as in a Hugging Face snapshot)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_chat_template(folder: Path) -> str | None:
    """The chat template of a model/tokenizer folder, looking where transformers looks."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        try:
            return jinja.read_text(encoding="utf-8")
        except OSError:
            return None
    for name in ("tokenizer_config.json", "chat_template.json"):
        template = (read_json(folder / name) or {}).get("chat_template")
        if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default") or next(iter(named.values()), None)
        if isinstance(template, str) and template.strip():
            return template
    return None


def special_tokens(folder: Path) -> dict[str, str]:
    """bos/eos/unk/pad token strings from tokenizer_config.json or special_tokens_map.json."""
    out: dict[str, str] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        data = read_json(folder / name) or {}
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            text = _token_text(data.get(key))
            if text is not None:
                out[key] = text
    return out


def name_words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower())) - {""}


def detect_instruct(folder: Path, name: str | None = None) -> bool:
    """True when the model should get chat-formatted prompts.

    A chat template decides. Name patterns only break the tie when a template is present but the
    name says "base"/"pt" and nothing instruct-like (some base models ship a template).
    """
    if read_chat_template(folder) is None:
        return False
    words = name_words(name or folder.name)
    return not (words & BASE_WORDS and not words & INSTRUCT_WORDS)


def context_length(folder: Path) -> int | None:
    """The model's context length from config.json (or text_config), else tokenizer_config.json."""
    config = read_json(folder / "config.json") or {}
    for section in (config, config.get("text_config") or {}):
        for key in CONTEXT_KEYS:
            value = section.get(key)
            if isinstance(value, int) and value > 0:
                return value
    value = (read_json(folder / "tokenizer_config.json") or {}).get("model_max_length")
    if isinstance(value, int) and 0 < value < 10_000_000:
        return value
    return None


def model_type(folder: Path) -> str | None:
    value = (read_json(folder / "config.json") or {}).get("model_type")
    return value if isinstance(value, str) else None


def check_model_folder(folder: Path) -> None:
    """Raise a ModelError that names the problem and the fix when ``folder`` is not a loadable model."""
    if not folder.exists():
        raise ModelError("folder does not exist", path=folder, hint="check the path")
    if not folder.is_dir():
        raise ModelError("not a folder", path=folder, hint="pick the folder that holds config.json and *.safetensors")
    has_config = (folder / "config.json").is_file()
    weights = weight_files(folder)
    if not has_config and not weights:
        if is_adapter_folder(folder):
            raise ModelError("this is an adapter folder, not a base model", path=folder,
                             hint="open it as a run/checkpoint so its base model is loaded too")
        raise ModelError("not a model folder: no config.json and no *.safetensors weights", path=folder,
                         hint="pick a folder with an MLX/Hugging Face model (config.json + *.safetensors) "
                              "or a training run (adapters.safetensors)")
    if not has_config:
        raise ModelError("model folder has no config.json", path=folder,
                         hint="copy config.json from the model's original repository")
    if not weights:
        other = [p.name for p in folder.iterdir() if p.suffix in (".bin", ".gguf", ".pt", ".pth")][:1]
        hint = ("mlx-lm reads safetensors: convert it with `mlx_lm.convert --hf-path <repo>`" if other
                else "download the model weights (*.safetensors) into this folder")
        raise ModelError("model folder has no *.safetensors weights", path=folder, hint=hint)
    if model_type(folder) is None:
        raise ModelError("config.json has no model_type", path=folder / "config.json",
                         hint="this does not look like a Hugging Face/MLX model config")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelError("model folder has no tokenizer files", path=folder,
                         hint="copy tokenizer.json / tokenizer_config.json from the model's repository")
    for weights_file in weights:
        safetensors_header(weights_file)  # a truncated or random file, before MLX reads it
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        _check_json(folder / name)


def _check_json(path: Path) -> None:
    """ModelError naming the file when it exists but is not a JSON object."""
    if not path.is_file():
        return
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ModelError(f"corrupt or unreadable JSON ({exc})", path=path,
                         hint="copy or download the file again from the model's repository") from None
    if not isinstance(data, dict):
        raise ModelError("is not a JSON object", path=path,
                         hint="copy or download the file again from the model's repository")
