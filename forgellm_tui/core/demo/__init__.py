"""The offline demo workspace that ``forgellm-tui demo`` builds.

- ``builder.py``: the workspace: corpus, tokenizer, a tiny random llama model, configs, prepared data
- ``corpus.py``: real English text from Python's standard-library documentation (pydoc)
- ``configs.py``: the demo training configs (``cpt-demo.yaml``, ``ift-demo.yaml``)
- ``data.py``: the demo's prepared data, ``data/cpt-demo`` and ``data/ift-demo``
"""

from __future__ import annotations

from forgellm_tui.core.demo.builder import build_demo

__all__ = ["build_demo"]
