"""Chat generation, in one import: the model cache, the chat session and prompt formatting.

Typical use (any thread; MLX work runs on core's single MLX thread)::

    cache = ModelCache(settings=settings)
    cache.load(ref, progress=print)                 # ModelRef from core.models.discover(), or a path
    chat = ChatSession(cache, system_prompt="Be brief.", sampling=SamplingSettings(temperature=0.0))
    for chunk in chat.stream("Hello"):              # Chunk(text | progress | stats)
        ...                                         # chat.stop() from another thread ends it
    chat.regenerate(); chat.edit_last_user("Hi"); chat.clear()

- ``model_cache.py``: loaded (model, adapter) pairs (one, or a few with ``capacity``), on one long-lived MLX thread
- ``session.py``: a conversation: streaming replies that reuse the KV prompt cache
- ``types.py``: sampling settings, messages, streamed chunks and per-reply stats
- ``prompt_format.py``: chat templates for instruct models, plain text for base models, ``<think>`` split
- ``chunk_channel.py``: chunks from the MLX thread to the reader's thread, handed over in batches
- ``export.py``: a conversation as Markdown or JSON (with model, adapter and settings), and JSON loaded back
"""

from __future__ import annotations

from forgellm_tui.core.chat.export import (apply_record, export_json, export_markdown, load_json, model_info, record_of,
                                          settings_line)
from forgellm_tui.core.chat.session import ChatSession
from forgellm_tui.core.chat.types import ChatMessage, Chunk, ReplyStats, SamplingSettings
from forgellm_tui.core.chat.model_cache import LoadedModel, MLXThread, ModelCache, check_adapter, mlx_thread
from forgellm_tui.core.chat.prompt_format import (JinjaTemplate, PromptFormatter, ThinkParts, format_base, merge_system,
                            probe_system_mode, split_think)

__all__ = [
    "ChatMessage", "ChatSession", "Chunk", "JinjaTemplate", "LoadedModel", "MLXThread", "ModelCache",
    "PromptFormatter", "ReplyStats", "SamplingSettings", "ThinkParts", "apply_record", "check_adapter",
    "export_json", "export_markdown", "format_base", "load_json", "merge_system", "mlx_thread", "model_info",
    "probe_system_mode", "record_of", "settings_line", "split_think",
]
