"""Chat generation, in one import: the model cache, the chat session and prompt formatting.

Typical use (any thread; MLX work runs on core's single MLX thread)::

    cache = ModelCache(settings=settings)
    cache.load(ref, progress=print)                 # ModelRef from core.models.discover(), or a path
    chat = ChatSession(cache, system_prompt="Be brief.", sampling=SamplingSettings(temperature=0.0))
    for chunk in chat.stream("Hello"):              # Chunk(text | progress | stats)
        ...                                         # chat.stop() from another thread ends it
    chat.regenerate(); chat.edit_last_user("Hi"); chat.clear()

The pieces live in ``model_cache.py``, ``chat_session.py``, ``chat_types.py`` and ``prompt_format.py``.
"""

from __future__ import annotations

from forgellm_tui.core.chat.session import ChatSession
from forgellm_tui.core.chat.types import ChatMessage, Chunk, ReplyStats, SamplingSettings
from forgellm_tui.core.chat.model_cache import LoadedModel, MLXThread, ModelCache, check_adapter, mlx_thread
from forgellm_tui.core.chat.prompt_format import (JinjaTemplate, PromptFormatter, ThinkParts, format_base, merge_system,
                            probe_system_mode, split_think)

__all__ = [
    "ChatMessage", "ChatSession", "Chunk", "JinjaTemplate", "LoadedModel", "MLXThread", "ModelCache",
    "PromptFormatter", "ReplyStats", "SamplingSettings", "ThinkParts", "check_adapter", "format_base",
    "merge_system", "mlx_thread", "probe_system_mode", "split_think",
]
