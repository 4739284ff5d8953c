"""The bodies of the Training screen's thread workers: train in this process, start a background run,
follow a run folder from disk, and compute the pre-run estimate. Each gets ``post`` (the screen's
``post_message``) and only posts messages (attributes down, messages up); the engine is imported
inside them so the app starts without MLX. :func:`start` runs one on the screen, whose quit and hang-up
handling finds its run by the worker's group.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import Callable

from textual.worker import Worker, get_current_worker

from ..config_draft import config_field_errors
from ..training_messages import DetachStarted, EstimateReady, EventFeed, FeedReady, FolderRead, RunEnded

FOLLOW_POLL_S = 0.5
"""How often a followed run folder is read."""



def start(screen, body: str, *args) -> Worker:
    """Run the body named ``body`` (a key of ``WORKERS``) in a thread worker of ``screen``, posting to it."""
    function, group, exclusive, description = WORKERS[body]
    return screen.run_worker(partial(function, screen.post_message, *args), name=f"_{body}_worker", group=group,
                             description=description, exclusive=exclusive, exit_on_error=False, thread=True)


def error_line(exc: BaseException) -> str:
    from forgellm_tui.format import error_text

    return error_text(exc)


def train_in_thread(post: Callable, run_id: int, cfg, feed: EventFeed, control, done: threading.Event,
                    resume_from: Path | None = None, fault_hook=None) -> None:
    """Train here; ``fault_hook(iteration)`` is passed to the engine (tests inject failures with it)."""
    from forgellm_tui.core import events as ev
    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.training import train
    from ..priority import lower_other_threads

    lowered = threading.Event()

    def on_event(event) -> None:  # in the training thread: hand over, never block
        if isinstance(event, ev.Metrics) and not lowered.is_set():
            lowered.set()
            lower_other_threads()  # the threads MLX and BLAS started for the run
        feed.put(event)
        post(FeedReady(run_id))

    lower_other_threads()  # this thread (and what it starts) yields the CPU to the UI thread
    try:
        result = train(cfg, on_event, control, resume_from=resume_from, fault_hook=fault_hook)
    except ForgeError as exc:
        post(RunEnded(run_id, error=str(exc), fields=config_field_errors(exc)))
    except Exception as exc:  # noqa: BLE001 - shown in the status panel; the app stays usable
        post(RunEnded(run_id, error=error_line(exc)))
    else:
        post(RunEnded(run_id, result=result))
    finally:
        done.set()


def detach(post: Callable, cfg, settings) -> None:
    """Start ``cfg`` in a background process of its own session (it outlives the app)."""
    from forgellm_tui.core.training import start_detached

    try:
        started = start_detached(cfg, settings, cwd=settings.workspace)
    except Exception as exc:  # noqa: BLE001 - refused (a ForgeError) or could not start: a message
        post(DetachStarted(error=error_line(exc)))
        return
    post(DetachStarted(run_dir=str(started.run_dir)))


def follow(post: Callable, run_dir: Path, stop: threading.Event) -> None:
    """Read new metrics/log lines and run.json until the run ends (or another run is followed)."""
    from forgellm_tui.core.runs import METRICS, process_alive, read_log, read_metrics, read_run_json
    from ..run_view import ACTIVE as ACTIVE_STATES

    worker = get_current_worker()
    offset = log_offset = 0
    last_info: dict | None = None
    samples = SampleTail(run_dir)
    while not worker.is_cancelled and not stop.is_set():
        info = read_run_json(run_dir)
        try:
            size = (run_dir / METRICS).stat().st_size
        except OSError:
            size = 0
        reset = size < offset
        if reset:
            offset = 0
        records, offset = read_metrics(run_dir, offset)
        logs, log_offset = read_log(run_dir, log_offset)
        new_samples, samples_reset = samples.read()
        status = (info or {}).get("status")
        alive = (process_alive(info.get("pid"), info.get("host"))
                 if info and status in ACTIVE_STATES and info.get("pid") else None)  # queued: no pid yet
        done = info is None or status not in ACTIVE_STATES or alive is False
        if records or logs or new_samples or samples_reset or reset or done or info != last_info:
            error = None if info is not None else f"{run_dir}: run.json is missing or unreadable"
            post(FolderRead(str(run_dir), records, logs, info, alive, reset, done, error, new_samples, samples_reset))
        last_info = info
        if done:
            return
        stop.wait(FOLLOW_POLL_S)


class SampleTail:
    """The new records of a followed run's samples.jsonl; a resume replaces the file (another inode,
    maybe shorter), and then it is read again from the start."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.offset, self.inode = run_dir, 0, None

    def read(self) -> tuple[list, bool]:
        from forgellm_tui.core.runs import SAMPLES, read_samples

        try:
            stat = (self.run_dir / SAMPLES).stat()
        except OSError:
            return [], False
        reset = self.inode is not None and (stat.st_ino != self.inode or stat.st_size < self.offset)
        if reset:
            self.offset = 0
        self.inode = stat.st_ino
        records, self.offset = read_samples(self.run_dir, self.offset)
        return records, reset


def estimate(post: Callable, key: str, cfg) -> None:
    """The pre-run estimate of ``cfg``; ``key`` tells the screen which form values it belongs to."""
    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.training import estimate as plan_estimate

    try:
        est = plan_estimate(cfg)
    except ForgeError as exc:
        post(EstimateReady(key, error=str(exc), fields=config_field_errors(exc)))
        return
    except Exception as exc:  # noqa: BLE001
        post(EstimateReady(key, error=error_line(exc)))
        return
    post(EstimateReady(key, lines=estimate_lines(est)))


def estimate_lines(est) -> list[str]:
    """The estimate in three short lines (plus a warning when rows will be cut), then the expected
    peak memory next to the machine's (plus a warning with the first fix when it will not fit)."""
    lines = [f"tokens {est.train_tokens:,} train · {est.valid_tokens:,} valid"
             + ("" if est.tokens_exact else " (metadata)"),
             f"{est.steps_per_epoch:,.1f} steps/epoch · {est.max_iterations:,} iterations = {est.epochs:.2f} epochs",
             f"{est.checkpoints} checkpoints · {est.validations} validations · {est.train_examples:,} rows "
             f"({est.data_format})"]
    ranks = getattr(est, "world_size", 1) or 1
    if ranks > 1:  # a distributed config: each rank trains its share of every batch
        lines.insert(0, f"{ranks} ranks, data-parallel · {est.tokens_per_iteration / ranks:,.0f} tokens per rank "
                        f"per iteration ({est.tokens_per_iteration:,.0f} in all)")
    if est.truncated_rows:
        lines.append(f"⚠ {est.truncated_rows:,} rows are longer than max_seq_length and will be cut")
    if getattr(est, "memory", None) is not None:
        lines += est.memory.short_lines()
    return lines


WORKERS = {  # name -> (body, worker group, exclusive, description); the app's quit looks at the groups
    "train": (train_in_thread, "training", False, "Training"),
    "detach": (detach, "detach", False, "Starting a background run"),
    "follow": (follow, "follow", True, "Following a run"),
    "estimate": (estimate, "estimate", True, "Estimating the run"),
}
