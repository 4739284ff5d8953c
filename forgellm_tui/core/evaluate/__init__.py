"""Evaluate checkpoints and models: test-split perplexity and multiple-choice tasks, without fusing.

``evaluate(EvalRequest(target, ...), settings)`` loads the model once, measures the base model, then
each requested checkpoint of a run with its adapter weights swapped in (in memory), on the same token
rows and task items. Perplexity is ``exp`` of the token-weighted mean loss with training's masking
(IFT: the answers only); on the CPU the split's batches are scored side by side, one lane thread
per core (``lanes``), with the same numbers. Results go to ``<run>/eval/<checkpoint>.json`` (a model's to
``<workspace>/eval/<model>.json``), written atomically once every number is known, and are reused
when the data, task files, model and adapter are unchanged.
"""

from __future__ import annotations

from forgellm_tui.core.evaluate.results import RESULT_FORMAT, change, perplexity_numbers
from forgellm_tui.core.evaluate.runner import EvalReport, EvalRequest, evaluate
from forgellm_tui.core.evaluate.scoring import EvalCancelled, choice_logliks, choice_sequences, split_loss
from forgellm_tui.core.evaluate.targets import SPLITS, Target, resolve_target, select_checkpoints
from forgellm_tui.core.evaluate.tasks import TaskFile, TaskItem, load_tasks, mean_stderr, score_items

__all__ = [
    "EvalCancelled", "EvalReport", "EvalRequest", "RESULT_FORMAT", "SPLITS", "Target", "TaskFile", "TaskItem",
    "change", "choice_logliks", "choice_sequences", "evaluate", "load_tasks", "mean_stderr", "perplexity_numbers",
    "resolve_target", "score_items", "select_checkpoints", "split_loss",
]
