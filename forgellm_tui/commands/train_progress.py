"""Compact progress lines for a headless run (one per metrics report; notes for the rest), and the
terminal notification when the run ends or recovers (written to stderr, and only when it is a terminal)."""

from __future__ import annotations

import sys

from forgellm_tui.core import events as ev
from ..format import duration, progress_line


#: info lines worth a headless line: what start-up does with the data
STARTUP_NOTES = ("tokenizing", "using the token ids")
#: seconds between two progress lines of the same task (the last one is always printed)
PROGRESS_EVERY = 5.0


def _terminal(stream):
    """``stream`` when it is a terminal, else None (no escapes into files and pipes)."""
    try:
        return stream if stream is not None and stream.isatty() else None
    except (AttributeError, ValueError):
        return None


def _loss(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "  -  "


def _preference_parts(extra: dict) -> list[str]:
    """DPO and ORPO: the reward accuracy and margin of the report window (ORPO's margin is the log odds
    ratio), and the validation accuracy when the record has one."""
    parts = []
    if "reward_accuracy" in extra:
        margin = extra.get("reward_margin", extra.get("log_odds_ratio"))
        parts.append(f"acc {extra['reward_accuracy']:.2f}" + (f" margin {margin:.3f}" if margin is not None else ""))
    if "val_reward_accuracy" in extra:
        parts.append(f"val acc {extra['val_reward_accuracy']:.2f}")
    return parts


class Printer(ev.EventHandler):
    """The ``on_event`` callback of ``forgellm-tui train``: writes to stdout, flushed per line."""

    def __init__(self, out=None, verbose: bool = False, notify: str = "off", terminal=None):
        self.out = out or sys.stdout
        self.verbose = verbose
        """Also print what the model says at each sampling point (``--verbose``)."""
        self.run_dir = None
        self.world_size = 1
        self.progress_at = 0.0
        self.notify = notify
        self.terminal = terminal if terminal is not None else _terminal(sys.stderr)

    def _print(self, text: str) -> None:
        try:
            print(text, file=self.out, flush=True)
        except (BrokenPipeError, ValueError):
            pass

    def note(self, text: str) -> None:
        self._print(text)

    def __call__(self, event: ev.Event) -> None:
        ev.dispatch(event, self)
        if self.notify != "off" and self.terminal is not None:
            self._ring(event)

    def _ring(self, event: ev.Event) -> None:
        """The bell / desktop notification for an event worth one, on the terminal."""
        import os

        from forgellm_tui.core.notify import escape_text, notice_for

        notice = notice_for(event, self.run_dir.name if self.run_dir is not None else "")
        if notice is None:
            return
        try:
            self.terminal.write(escape_text(self.notify, notice.title, notice.body, os.environ))
            self.terminal.flush()
        except (OSError, ValueError):  # the terminal went away: the run's outcome is recorded anyway
            pass

    def on_metrics(self, event: ev.Metrics) -> None:
        parts = [f"it {event.iteration:>6}/{event.max_iterations}", f"train {_loss(event.training_loss)}",
                 f"val {_loss(event.validation_loss)}", *_preference_parts(event.extra),
                 f"lr {event.learning_rate:.2e}"]
        if event.tokens_per_second:
            per_rank = f" ({event.tokens_per_second / self.world_size:,.0f}/rank)" if self.world_size > 1 else ""
            parts.append(f"{event.tokens_per_second:,.0f} tok/s{per_rank}")
        if event.gradient_norm is not None:
            parts.append(f"gn {event.gradient_norm:.2f}")
        parts.append(f"ep {event.epoch:.2f}")
        parts.append(f"ETA {duration(event.eta_seconds, unknown='?')}")
        self._print("  ".join(parts))

    def on_run_started(self, event: ev.RunStarted) -> None:
        self.run_dir = event.run_dir
        self.world_size = event.world_size
        what = "resuming" if event.resumed else "training"
        self._print(f"{what} {event.name}: {event.training_type} {event.fine_tune_type}, "
                    f"{event.trainable_parameters:,} of {event.total_parameters:,} parameters trainable, "
                    f"{event.train_examples:,} training rows ({event.train_tokens:,} tokens), "
                    f"iterations {event.start_iteration}->{event.max_iterations}"
                    + (f", {event.world_size} ranks" if event.world_size > 1 else ""))
        self._print(f"run folder: {event.run_dir}")

    def on_checkpoint_saved(self, event: ev.CheckpointSaved) -> None:
        label = "best" if event.reason == "best" else f"checkpoint {event.path.name} ({event.reason})"
        val = f", val {event.validation_loss:.3f}" if event.validation_loss is not None else ""
        self._print(f"saved {label} at iteration {event.iteration}{val}")

    def on_log_line(self, event: ev.LogLine) -> None:
        if event.level != "info" or event.message.startswith(STARTUP_NOTES):
            self._print(f"{event.level}: {event.message}")

    def on_progress(self, event: ev.Progress) -> None:
        if event.done >= event.total or event.time - self.progress_at >= PROGRESS_EVERY:
            self.progress_at = event.time
            self._print(progress_line(event))

    def on_samples(self, event: ev.Samples) -> None:
        if not self.verbose:
            return
        for record in event.records:
            text = " ".join(record["text"].split())  # one line per sample, whatever the model wrote
            self._print(f"sample it {event.iteration}: {record['prompt']!r} -> {text!r}")

    def on_early_stop(self, event: ev.EarlyStop) -> None:
        self._print(f"early stop: {event.reason}")

    def on_error(self, event: ev.ErrorEvent) -> None:
        if event.kind == "oom":  # a failing error ends the run: summary() prints it
            self._print(f"recovered: {event.message}")

    def on_setting_changed(self, event: ev.SettingChanged) -> None:
        self._print(f"changed {event.key} {event.old!r} -> {event.new!r} at iteration {event.iteration}")

    def on_max_iterations_changed(self, event: ev.MaxIterationsChanged) -> None:
        self._print(f"max_iterations is now {event.max_iterations}")

    def on_state_changed(self, event: ev.StateChanged) -> None:
        if event.state in (ev.PAUSED, ev.STOPPING):  # the final state is in summary()
            self._print(f"{event.state}")

    def summary(self, result) -> None:
        best = (f", best val {result.best_validation_loss:.4f} at iteration {result.best_iteration}"
                if result.best_validation_loss is not None else "")
        if result.status == "failed":
            self._print(f"run failed at iteration {result.iteration}: {result.error}")
            self._print(f"details: {result.run_dir / 'error.log'}")
            return
        reason = f" ({result.reason})" if result.reason else ""
        self._print(f"{result.status}{reason} at iteration {result.iteration}/{result.max_iterations} "
                    f"in {duration(result.seconds, unknown='?')}{best}")
        self._print(f"adapters: {result.run_dir}")
