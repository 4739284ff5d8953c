"""What the memory estimate needs to know about a model, read from ``config.json`` and the
safetensors headers (names, dtypes, shapes, byte ranges); no weight is read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from forgellm_tui.core.errors import ModelError
from forgellm_tui.core.models import files

#: bytes per element of each safetensors dtype
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
#: ``...layers.<n>.<module>.<tensor>``: the tensors of transformer block ``n``
BLOCK_TENSOR = re.compile(r"(?:^|\.)layers\.(\d+)\.(.+)\.(weight|scales|biases|bias)$")


@dataclass(frozen=True)
class Linear:
    """One linear layer of a block: ``in_dims`` -> ``out_dims`` (``experts`` > 1: a mixture-of-experts stack)."""

    key: str                 # block-relative name, e.g. ``self_attn.q_proj``
    in_dims: int
    out_dims: int
    experts: int = 1
    bytes: int = 0           # its stored weights (quantized: packed weights + scales + biases)


@dataclass(frozen=True)
class ModelShape:
    """Sizes of a transformer, enough to estimate what training it holds in memory."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    vocab: int
    weight_bytes: int                     # every stored tensor, as stored (quantized stays packed)
    parameters: int                       # elements once unpacked (a quantized weight counts its real size)
    compute_bytes: int                    # bytes per activation element (the float dtype of the weights)
    quant_bits: int | None = None
    block_linears: list[Linear] = field(default_factory=list)   # the linear layers of one block
    block_bytes: int = 0                  # stored bytes of one block (all its tensors)
    block_parameters: int = 0             # elements of one block once unpacked


def _text_config(cfg: dict) -> dict:
    inner = cfg.get("text_config")
    return {**cfg, **inner} if isinstance(inner, dict) else cfg


def _first_int(cfg: dict, *keys: str, default: int = 0) -> int:
    for key in keys:
        if isinstance(cfg.get(key), int) and not isinstance(cfg.get(key), bool):
            return cfg[key]
    return default


def _quant_bits(cfg: dict) -> int | None:
    quant = cfg.get("quantization") or cfg.get("quantization_config")
    return int(quant.get("bits", 4)) if isinstance(quant, dict) else None


def read_header_tensors(folder: Path) -> dict[str, dict]:
    """Every tensor of the folder's safetensors files: name -> ``{dtype, shape, bytes}``."""
    out: dict[str, dict] = {}
    for path in files.weight_files(folder):
        for name, info in files.safetensors_header(path).items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            out[name] = {"dtype": info["dtype"], "shape": tuple(info["shape"]), "bytes": int(end) - int(start)}
    return out


def _block_linears(tensors: dict[str, dict], bits: int | None) -> tuple[list[Linear], int, int]:
    """The linear layers of the first block, its stored bytes and its unpacked elements."""
    linears: list[Linear] = []
    block_bytes = block_params = 0
    for name, info in tensors.items():
        m = BLOCK_TENSOR.search(name)
        if not m or m.group(1) != "0":
            continue
        block_bytes += info["bytes"]
        shape, packed = info["shape"], info["dtype"] == "U32" and bits
        elements = _elements(shape) * (32 // bits if packed else 1)
        block_params += elements if m.group(3) == "weight" or not packed else 0
        if m.group(3) != "weight" or len(shape) not in (2, 3):
            continue
        out_dims, in_dims = shape[-2], shape[-1] * (32 // bits if packed else 1)
        scale_bytes = sum(tensors.get(f"{name[:-len('weight')]}{part}", {}).get("bytes", 0)
                          for part in ("scales", "biases"))
        linears.append(Linear(m.group(2), in_dims, out_dims, shape[0] if len(shape) == 3 else 1,
                              info["bytes"] + scale_bytes))
    return linears, block_bytes, block_params


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def read_model_shape(folder: Path) -> ModelShape:
    """The model's sizes from ``config.json`` and its safetensors headers (ModelError when unreadable)."""
    folder = Path(folder)
    cfg = files.read_json(folder / "config.json")
    if cfg is None:
        raise ModelError("no readable config.json", path=folder / "config.json",
                         hint="point model: at a folder with config.json and *.safetensors")
    cfg = _text_config(cfg)
    tensors = read_header_tensors(folder)
    bits = _quant_bits(cfg)
    linears, block_bytes, block_params = _block_linears(tensors, bits)
    floats = [t["dtype"] for t in tensors.values() if t["dtype"] in ("F32", "F16", "BF16")]
    compute = DTYPE_BYTES[max(set(floats), key=floats.count)] if floats else 4
    hidden = _first_int(cfg, "hidden_size", "n_embd", "d_model")
    unpacked = sum(_elements(t["shape"]) * (32 // bits if bits and t["dtype"] == "U32" else 1)
                   for name, t in tensors.items() if not name.endswith((".scales", ".biases")) or not bits)
    return ModelShape(
        layers=_first_int(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers"),
        hidden=hidden,
        intermediate=_first_int(cfg, "intermediate_size", "n_inner", "ffn_dim", default=4 * hidden),
        heads=_first_int(cfg, "num_attention_heads", "n_head", "num_heads", default=1),
        vocab=_first_int(cfg, "vocab_size"),
        weight_bytes=sum(t["bytes"] for t in tensors.values()),
        parameters=unpacked, compute_bytes=compute, quant_bits=bits,
        block_linears=linears, block_bytes=block_bytes, block_parameters=block_params)
