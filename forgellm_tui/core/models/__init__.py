"""Models on disk, found and read without loading them and without network.

- ``discovery.py``: base models, runs and checkpoints, published models and the Hugging Face cache
- ``files.py``: facts read from model files: config, safetensors headers, chat template, size on disk
- ``hf_cache.py``: the Hugging Face hub cache, read through huggingface_hub's cache functions
"""

from __future__ import annotations

from forgellm_tui.core.models import files, hf_cache
from forgellm_tui.core.models.discovery import (ModelRef, adapter_config_for, adapter_ref, discover, inspect_path,
                                                resolve_base_model, resolve_open)
from forgellm_tui.core.models.files import check_model_folder, dir_size, safetensors_header, tensor_shapes, weight_files

__all__ = ["ModelRef", "adapter_config_for", "adapter_ref", "check_model_folder", "dir_size", "discover", "files",
           "hf_cache", "inspect_path", "resolve_base_model", "resolve_open", "safetensors_header", "tensor_shapes",
           "weight_files"]
