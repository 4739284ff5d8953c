"""Helpers for the Training screen's tests: a workspace with one tiny config, waiting on the app."""

from __future__ import annotations

import time
from pathlib import Path

from train_helpers import small_cpt

TINY = """# tiny run for tests
model: models/base/forge-tiny
data: {data}
max_iterations: {iters}
batch_size: 2
max_seq_length: 128
learning_rate: 1.0e-3
lr_schedule: constant
steps_per_report: {report}
steps_per_eval: {eval_every}
val_batches: {val_batches}
save_every: {save_every}
lora_parameters: {{rank: 4}}
early_stopping: false
seed: 0
"""


def tiny_config(ws: Path, name: str = "tiny.yaml", iters: int = 6, report: int = 2, eval_every: int = 3,
                val_batches: int = 2, save_every: int = 3, keep_others: bool = False) -> Path:
    """``configs/<name>`` for a run of a few seconds on a slice of data/cpt-demo (other configs removed)."""
    if not keep_others:
        for old in (ws / "configs").glob("*.yaml"):
            old.unlink()
    data = small_cpt(ws)
    path = ws / "configs" / name
    path.write_text(TINY.format(data=data, iters=iters, report=report, eval_every=eval_every,
                                val_batches=val_batches, save_every=save_every))
    return path


def long_config(ws: Path, name: str = "long.yaml", iters: int = 400) -> Path:
    """A run long enough to be controlled mid-way: a report every step, no periodic checkpoints."""
    return tiny_config(ws, name, iters=iters, report=1, eval_every=1000, val_batches=1, save_every=1000)


async def wait_until(pilot, condition, timeout: float = 90.0, step: float = 0.1) -> None:
    """Let the app run until ``condition()`` is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await pilot.pause(step)


def training_screen(app):
    from forgellm_tui.tui.screens import TrainingScreen

    screen = app.screen
    assert isinstance(screen, TrainingScreen), type(screen)
    return screen


async def open_training(app, pilot, estimate: bool = True) -> object:
    """Switch to the Training screen and wait for its config (and, by default, its estimate)."""
    await pilot.press("2")  # not settle(): a followed run's worker keeps going while the run does
    await pilot.pause()
    screen = training_screen(app)
    await wait_until(pilot, lambda: screen.setup.draft is not None and (screen.setup.estimate_lines or not estimate), 30)
    return screen
