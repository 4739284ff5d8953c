"""Training a model: from a config to a finished (or stopped, or failed) run folder.

- ``preflight.py``: checks that run before anything is written (model, data, sizes, output folder, resume changes)
- ``estimate.py``: the pre-run estimate (rows, tokens, steps, epochs, checkpoints) without a model
- ``prepare.py``: from a config to an open run folder: resume point, checks, tokenized data, the folder
- ``engine.py``: ``train``: runs the session in the open folder, recovers from out-of-memory, records the end
- ``loop.py``: the step loop of one training session
- ``data.py``: the prepared data read, packed and batched deterministically
- ``setup.py``: the model with LoRA/DoRA/full layers, the optimizer and learning-rate schedule
- ``report.py``: what a metrics record summarises (report window, learning rate)
- ``early_stopping.py``: best validation loss, overfitting signal, early stopping
- ``memory_guard.py``: refuse a step that would not fit in memory, before MLX allocates it
- ``control.py``: thread-safe control of a running loop (stop, pause, save now, change settings), and the
  requests other processes leave in the run folder
- ``live.py``: the settings a running run changes (validated like the config), applied between steps,
  recorded, kept in checkpoints and replayed on resume
- ``rank.py``: what one rank of a distributed run needs beyond a single-process run
- ``supervisor.py``: a parent process that restarts a trainer killed for memory at half the batch size
- ``background.py``: start a run in a background process that outlives its caller

MLX and mlx-lm are imported inside the functions that train: importing this package stays cheap.
"""

from __future__ import annotations

from forgellm_tui.core.training.background import Detached, start_detached
from forgellm_tui.core.training.control import TrainingControl
from forgellm_tui.core.training.data import make_batch, read_split
from forgellm_tui.core.training.engine import RunResult, train
from forgellm_tui.core.training.estimate import Estimate, estimate
from forgellm_tui.core.training.live import ask, check_changes, folder_values, live_keys
from forgellm_tui.core.training.loop import masked_loss
from forgellm_tui.core.training.prepare import (load_run_config, prepare_run, resume_config, resume_point,
                                                resume_target, settings_for_run)
from forgellm_tui.core.training.rank import check_divisible, share_config
from forgellm_tui.core.training.setup import load_adapter_weights, load_model, load_tokenizer
from forgellm_tui.core.training.supervisor import Supervisor

__all__ = [
    "Detached", "Estimate", "RunResult", "Supervisor", "TrainingControl", "ask", "check_changes", "check_divisible",
    "estimate", "folder_values", "live_keys",
    "load_adapter_weights", "load_model", "load_run_config", "load_tokenizer", "make_batch", "masked_loss",
    "prepare_run", "read_split", "resume_config", "resume_point", "resume_target", "settings_for_run", "share_config",
    "start_detached", "train",
]
