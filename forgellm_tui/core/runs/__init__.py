"""Run folders: writing one while training, reading, ranking, finding and deleting them.

- ``folder.py``: one run's folder: ``config.yaml``, ``run.json`` (status), ``metrics.jsonl``, ``log.jsonl``
- ``lock.py``: one writer per run folder, an exclusive lock held for the life of a run
- ``index.py``: the workspace's index of run folders outside ``models/<training type>/``
- ``checkpoints.py``: checkpoint folders: written atomically, the newest complete one, ``best/``
- ``reader.py``: read run folders (list, status, metrics, log) without MLX
- ``ranking.py``: rank a run's checkpoints and spot overfitting from its metrics
- ``samples.py``: the run's ``samples.jsonl`` (what the model said while it trained): read, pick, truncate
- ``evals.py``: read the run's evaluation results (``eval/<checkpoint>.json``) for the ranking and the model card
- ``lookup.py``: a run's checkpoints and base model on disk, for publishing, chat and deleting
- ``analysis.py``: what the Checkpoints screen shows: table rows, one run's detail, comparisons
- ``admin.py``: delete checkpoints, runs and published models, refusing what must be kept
- ``stop_cause.py``: why a run stopped, as ``run.json`` records it (``stop_cause``)
- ``detach.py``: stop a run in a background process by its run folder
- ``export.py``: a run's metrics and evaluations as CSV and Markdown (``runs RUN --csv``, the Checkpoints export key)
- ``requests.py``: requests to a running run through its folder (``control.json``) and the loop's answers

Code that writes checkpoints uses ``checkpoints`` as a namespace (``from forgellm_tui.core.runs import
checkpoints as ck``); the stop causes are read as ``stop_cause.USER`` and the like; the folder requests
as ``requests.send`` and the like.
"""

from __future__ import annotations

from forgellm_tui.core.runs import checkpoints, requests, stop_cause
from forgellm_tui.core.runs.admin import delete_checkpoint, delete_published, delete_run
from forgellm_tui.core.runs.analysis import (SORT_KEYS, all_runs, compare_runs, filter_runs, headless_commands,
                                             published_models, run_detail, sort_runs)
from forgellm_tui.core.runs.detach import request_stop
from forgellm_tui.core.runs.export import (EXPORT_DIR, eval_rows, find_run, markdown_report, metrics_rows, to_csv,
                                           write_exports)
from forgellm_tui.core.runs.evals import (EVAL_DIR, EVAL_FORMAT, EVAL_VERSION, EvalScore, EvalSummary,
                                          eval_of, eval_scores, evaluation_summary, read_eval_results,
                                          read_evals)
from forgellm_tui.core.runs.checkpoints import ADAPTERS, STATE, latest_checkpoint, read_state, resumable
from forgellm_tui.core.runs.checkpoints import damage as checkpoint_damage
from forgellm_tui.core.runs.folder import (CONFIG, METRICS, RUN_JSON, TRAIN_LOG, RunFolder, choose_run_dir,
                                           failure_reason, missing_folders, read_run_json, remove_leftovers, utc_now)
from forgellm_tui.core.runs.index import register
from forgellm_tui.core.runs.samples import (SAMPLES, at_iteration, nearest, newest_per_prompt, read_samples,
                                            sample_iterations, truncate_samples)
from forgellm_tui.core.runs.lock import RunLock, RunLocked, check_free
from forgellm_tui.core.runs.lookup import (Checkpoint, best_checkpoint, check_adapter, list_checkpoints, ranked_checkpoints, read_run_config,
                                           resolve_base_model, select_checkpoint, settings_near)
from forgellm_tui.core.runs.ranking import (BEST_WORDS, RANK_WORDS, CheckpointScore, is_overfitting, overfitting_reason,
                                            rank_checkpoints, split_series, val_reward_accuracy)
from forgellm_tui.core.runs.reader import (UNREADABLE, is_run_folder, list_runs, metrics_warnings, process_alive,
                                           read_log, read_metrics, read_run, run_roots)

__all__ = [
    "ADAPTERS", "BEST_WORDS", "EXPORT_DIR", "eval_rows", "find_run", "markdown_report", "metrics_rows", "to_csv",
    "write_exports", "CONFIG", "Checkpoint", "CheckpointScore", "EVAL_DIR", "EVAL_FORMAT", "EVAL_VERSION",
    "EvalScore", "EvalSummary", "METRICS", "RANK_WORDS", "RUN_JSON", "RunFolder", "RunLock", "RunLocked", "SORT_KEYS",
    "STATE",
    "TRAIN_LOG", "UNREADABLE", "all_runs", "best_checkpoint", "check_adapter", "check_free", "checkpoint_damage",
    "checkpoints", "choose_run_dir", "compare_runs", "delete_checkpoint", "delete_published", "delete_run",
    "eval_of", "eval_scores", "evaluation_summary", "failure_reason", "filter_runs", "headless_commands",
    "is_overfitting",
    "is_run_folder", "latest_checkpoint", "list_checkpoints", "list_runs", "metrics_warnings", "missing_folders",
    "overfitting_reason", "process_alive", "published_models", "rank_checkpoints", "ranked_checkpoints",
    "read_eval_results", "read_evals", "read_log", "read_metrics", "read_run", "read_run_config", "read_run_json",
    "read_state",
    "register", "remove_leftovers", "request_stop", "requests", "resolve_base_model", "resumable", "run_detail",
    "run_roots",
    "SAMPLES", "at_iteration", "nearest", "newest_per_prompt", "read_samples", "sample_iterations", "truncate_samples",
    "select_checkpoint", "settings_near", "sort_runs", "split_series", "stop_cause", "utc_now", "val_reward_accuracy",
]
