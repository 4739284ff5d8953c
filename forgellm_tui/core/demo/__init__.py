"""The offline demo workspace that ``forgellm-tui demo`` builds.

- ``builder.py``: the workspace: corpus, tokenizer, a tiny random llama model, configs, prepared data
- ``corpus.py``: real English text from Python's standard-library documentation (pydoc)
- ``preference.py``: the preference set (question, right answer, plausible wrong answer) built from the docs
- ``configs.py``: the demo training configs (``cpt-demo.yaml``, ``ift-demo.yaml``, ``dpo-demo.yaml``)
- ``data.py``: the demo's prepared data, ``data/cpt-demo``, ``data/ift-demo`` and ``data/demo-preference``
"""

from __future__ import annotations

from forgellm_tui.core.demo.builder import build_demo

__all__ = ["build_demo"]
