"""mlx-lm's ``LoRALinear`` with a fused forward pass for scoring (this module imports mlx-lm: load it lazily).

The low-rank product is added into the base layer's output by the matrix product itself (``addmm``:
output + scale * (x A) B) instead of a product, a scaling and an addition over the whole output: the
same sum, two passes over the activations fewer per layer. Parameters and their names are the
original layer's, so a checkpoint's adapter weights load into it unchanged.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
from mlx_lm.tuner.lora import LoRALinear


class ScoringLoRALinear(LoRALinear):
    @classmethod
    def of(cls, layer: LoRALinear) -> "ScoringLoRALinear":
        """The same layer (the very same arrays and base layer), with the scoring forward pass."""
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.linear, new.dropout, new.scale = layer.linear, layer.dropout, layer.scale
        new.lora_a, new.lora_b = layer.lora_a, layer.lora_b
        return new

    def __call__(self, x):
        if self.training or x.dtype != self.lora_b.dtype:  # dropout, or a cast to the input's type
            return super().__call__(x)
        return mx.addmm(self.linear(x), x @ self.lora_a, self.lora_b, alpha=self.scale)
