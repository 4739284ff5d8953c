"""Helpers for the Training screen's tests: a workspace with one tiny config, waiting on the app."""

from __future__ import annotations

from pathlib import Path

from train_helpers import small_cpt
from tui_helpers import settle
from wait_helpers import pilot_wait_until

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
    await pilot_wait_until(pilot, lambda: screen.setup.draft is not None and (screen.setup.estimate_lines or not estimate), 30)
    return screen


async def start_run(pilot, screen, iteration: int, timeout: float = 90.0) -> None:
    """Start the chosen config from the keyboard (ctrl+r) and wait until the run reaches ``iteration``."""
    await pilot.press("ctrl+r")
    await pilot_wait_until(pilot, lambda: screen.view is not None and screen.view.iteration >= iteration, timeout)


async def stop_run(app, pilot, screen, reason: str) -> None:
    """Stop the run trained in the app (what ``x`` then ``y`` asks for) and wait until it is stopped and saved."""
    screen.controller.control.stop(reason)
    await pilot_wait_until(pilot, lambda: screen.view.state == "stopped")
    await settle(app, pilot)


async def status_redrawn(pilot, screen, timeout: float = 10.0) -> None:
    """Wait until the status panel shows what the screen holds now.

    The panel is redrawn by a timer a few times a second, only when marked changed: mark it, wait until the
    timer has taken the mark, then let the new content paint.
    """
    screen.controller.status_dirty = True
    await pilot_wait_until(pilot, lambda: not screen.controller.status_dirty, timeout)
    await pilot.pause()
