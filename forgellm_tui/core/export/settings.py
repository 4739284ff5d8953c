"""Quantization settings, checked against what mlx-lm 0.32 / MLX 0.32 accept before any work starts.

The table below was found by quantizing the demo llama with every combination (``mlx_lm.utils.quantize_model``):
affine takes 2, 3, 4, 5, 6 or 8 bits with groups of 32, 64 or 128; the float formats each take exactly one
(bits, group size) pair; the mixed-bit recipes of ``mlx_lm.convert`` are affine only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core.errors import ConfigError

MODES = ("affine", "mxfp4", "nvfp4", "mxfp8")
RECIPES = ("mixed_2_6", "mixed_3_4", "mixed_3_6", "mixed_4_6")
AFFINE_BITS = (2, 3, 4, 5, 6, 8)
AFFINE_GROUPS = (32, 64, 128)
#: the one (bits, group size) pair each float format takes; also mlx-lm's defaults per mode
MODE_PAIRS = {"mxfp4": (4, 32), "nvfp4": (4, 16), "mxfp8": (8, 32)}
AFFINE_DEFAULT = (4, 64)
#: (low bits, high bits) of each mixed recipe: v_proj/down_proj of some layers and lm_head get the high bits
RECIPE_BITS = {"mixed_2_6": (2, 6), "mixed_3_4": (3, 4), "mixed_3_6": (3, 6), "mixed_4_6": (4, 6)}


@dataclass(frozen=True)
class QuantSettings:
    bits: int = 4
    group_size: int = 64
    mode: str = "affine"
    recipe: str | None = None

    def describe(self) -> str:
        """``4-bit affine, groups of 64`` / ``mixed_3_6 (3/6-bit affine), groups of 64``."""
        if self.recipe:
            low, high = RECIPE_BITS[self.recipe]
            return f"{self.recipe} ({low}/{high}-bit affine), groups of {self.group_size}"
        return f"{self.bits}-bit {self.mode}, groups of {self.group_size}"

    def as_dict(self) -> dict:
        return {"bits": self.bits, "group_size": self.group_size, "mode": self.mode, "recipe": self.recipe}

    @property
    def mean_bits(self) -> float:
        """Bits per weight used for the size estimate (a recipe mostly uses its low bits)."""
        if self.recipe:
            low, high = RECIPE_BITS[self.recipe]
            return low + (high - low) * 0.25
        return float(self.bits)


def quant_settings(bits: int | None = None, group_size: int | None = None, mode: str = "affine",
                   recipe: str | None = None) -> QuantSettings:
    """Checked settings (missing bits/group size take mlx-lm's default for the mode); ConfigError names the fix."""
    mode = (mode or "affine").lower()
    if mode not in MODES:
        raise ConfigError(f"unknown quantization mode '{mode}'", hint=f"use one of {', '.join(MODES)}")
    if recipe is not None and recipe not in RECIPES:
        raise ConfigError(f"unknown quantization recipe '{recipe}'", hint=f"use one of {', '.join(RECIPES)}")
    if mode != "affine":
        pair = MODE_PAIRS[mode]
        if recipe is not None:
            raise ConfigError(f"--recipe {recipe} works with --mode affine only (mlx-lm's mixed recipes are affine)",
                              hint="leave out --mode or --recipe")
        if (bits or pair[0], group_size or pair[1]) != pair:
            raise ConfigError(f"--mode {mode} needs --bits {pair[0]} --group-size {pair[1]} "
                              f"(got {bits or pair[0]} and {group_size or pair[1]})",
                              hint=f"leave out --bits and --group-size with --mode {mode}, or use --mode affine")
        return QuantSettings(pair[0], pair[1], mode, None)
    bits = bits or (RECIPE_BITS[recipe][0] if recipe else AFFINE_DEFAULT[0])
    group_size = group_size or AFFINE_DEFAULT[1]
    if bits not in AFFINE_BITS:
        raise ConfigError(f"--bits {bits} is not supported by affine quantization",
                          hint=f"use one of {', '.join(map(str, AFFINE_BITS))}")
    if group_size not in AFFINE_GROUPS:
        raise ConfigError(f"--group-size {group_size} is not supported by affine quantization",
                          hint=f"use one of {', '.join(map(str, AFFINE_GROUPS))}")
    if recipe is not None and bits != RECIPE_BITS[recipe][0]:
        raise ConfigError(f"--recipe {recipe} sets the bits itself ({RECIPE_BITS[recipe][0]} and "
                          f"{RECIPE_BITS[recipe][1]}); --bits {bits} does not fit", hint="leave out --bits")
    return QuantSettings(bits, group_size, mode, recipe)


def estimate_bytes(weight_bytes: int, bytes_per_param: float, settings: QuantSettings) -> int:
    """About the quantized size of ``weight_bytes`` of weights stored at ``bytes_per_param``.

    Each group of ``group_size`` weights also stores a scale (and a bias for affine) in 16 bits; MX/NV
    formats store an 8-bit scale. Norms and small layers stay unquantized, so this is a lower estimate.
    """
    params = weight_bytes / max(bytes_per_param, 1e-9)
    extra = (32 if settings.mode == "affine" else 8) / settings.group_size
    return int(params * (settings.mean_bits + extra) / 8)


def size_estimate(model_dir: Path, settings: QuantSettings | None) -> tuple[int, int]:
    """(weights on disk now, about how much after quantizing with ``settings``; the same without)."""
    from forgellm_tui.core.models import tensor_shapes

    files = sorted(Path(model_dir).glob("*.safetensors"))
    size = sum(p.stat().st_size for p in files)
    if settings is None or not size:
        return size, size
    params = sum(math.prod(shape) for p in files for shape in tensor_shapes(p).values())
    return size, estimate_bytes(size, size / max(params, 1), settings)
