"""The app's number formats live in :mod:`forgellm_tui.format` (the headless commands use them too)."""

from ..format import (distinct_labels, duration, error_text, grouped, human_count, human_size, middle,  # noqa: F401
                      progress_line, rel_path, short_path)
