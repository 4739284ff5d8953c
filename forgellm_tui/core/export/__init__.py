"""Quantizing and exporting published models: MLX quantized (mlx-lm's ``quantize_model``, with the test
perplexity before and after), GGUF (mlx-lm's GGUF writer) and an Ollama ``Modelfile``.

- ``settings.py``: the quantization settings mlx-lm accepts, and the size estimate
- ``source.py``: what is quantized (run checkpoint, published or base model) and on which test data
- ``quantize.py``: quantize into ``published/<name>/``, built in a temporary folder and renamed
- ``card.py``: the ``quantization`` section of metadata.json, README.md and dashboard.png
- ``gguf.py``: ``model.gguf`` beside a published model, for the architectures mlx-lm can write
- ``ollama.py``: the ``Modelfile`` (template translated from the model's chat template)
"""

from __future__ import annotations

from forgellm_tui.core.export.card import summary
from forgellm_tui.core.export.gguf import (GGUF_ARCHITECTURES, GGUF_FILE, MODELFILE, GgufResult, check_gguf_source,
                                           export_gguf, publish_gguf)
from forgellm_tui.core.export.ollama import Modelfile, build_modelfile, family_of
from forgellm_tui.core.export.quantize import QuantizeResult, default_name, quantize
from forgellm_tui.core.export.settings import (AFFINE_BITS, AFFINE_GROUPS, MODE_PAIRS, MODES, RECIPES, QuantSettings,
                                               estimate_bytes, quant_settings, size_estimate)

__all__ = ["AFFINE_BITS", "AFFINE_GROUPS", "GGUF_ARCHITECTURES", "GGUF_FILE", "MODELFILE", "MODES", "MODE_PAIRS",
           "GgufResult", "Modelfile", "QuantSettings", "QuantizeResult", "RECIPES", "build_modelfile",
           "check_gguf_source", "default_name", "estimate_bytes", "export_gguf", "family_of", "quant_settings",
           "publish_gguf", "quantize", "size_estimate", "summary"]
