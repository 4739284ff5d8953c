"""The memory a run really used: MLX's peak allocation and the process's peak resident size."""

from __future__ import annotations

import resource
import sys


def reset_peak() -> None:
    """Start MLX's peak count afresh (a second run in the same process measures its own peak)."""
    import mlx.core as mx

    mx.reset_peak_memory()


def measured_peak() -> dict:
    """``{"mlx_peak": bytes, "process_peak_rss": bytes}`` (ru_maxrss is KiB on Linux, bytes on a Mac).

    The process figure counts everything the process ever held (Python, the tokenizer, the data),
    so it is at least MLX's peak; it is never reset."""
    import mlx.core as mx

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024
    return {"mlx_peak": int(mx.get_peak_memory()), "process_peak_rss": int(rss_bytes)}
