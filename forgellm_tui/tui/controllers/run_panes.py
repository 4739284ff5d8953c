"""What a run's events and files do to the Training screen's run view besides the status panel: points on
the charts, lines in the log pane, and the notifications some events deserve."""

from __future__ import annotations

import time
from pathlib import Path

from forgellm_tui.core import events as ev
from ..run_view import RunView, parse_time


class RunPanes:
    """The charts and the log pane of the screen's run view."""

    def __init__(self, screen) -> None:
        self.screen = screen
        self.log_offset = 0
        """How far the run's log.jsonl was read (a run trained in this app)."""

    @property
    def charts(self):
        return self.screen.charts

    @property
    def samples(self):
        return self.screen.samples

    def load_samples(self, run_dir: Path) -> None:
        """Every sample the run folder holds, in place of what the pane showed."""
        from forgellm_tui.core.runs import read_samples

        self.samples.reset(read_samples(run_dir)[0])

    def reset_log(self) -> None:
        self.screen.run_log.reset()
        self.log_offset = 0

    def log_record(self, rec: dict) -> None:
        """One line of log.jsonl (``timestamp``, ``level``, ``message``)."""
        self.screen.run_log.add(parse_time(rec.get("timestamp")), str(rec.get("level") or "info"),
                                str(rec.get("message") or ""))

    def log_line(self, level: str, message: str, when: float | None = None) -> None:
        self.screen.run_log.add(time.time() if when is None else when, level, message)

    def tail_log(self, run_dir: Path) -> None:
        """The lines the engine appended to the run's log.jsonl since the last read (a few, small)."""
        from forgellm_tui.core.runs import read_log

        lines, self.log_offset = read_log(run_dir, self.log_offset)
        for rec in lines:
            self.log_record(rec)

    def load_earlier_metrics(self, run_dir: Path, view: RunView) -> None:
        """The points of the sessions before a resume, on the charts and in the status."""
        from forgellm_tui.core.runs import read_metrics

        from forgellm_tui.core.runs import read_run_json

        records, _ = read_metrics(run_dir)
        self.charts.add(records)
        self.charts.set_changes([c.get("iteration") for c in (read_run_json(run_dir) or {}).get("changes") or []])
        for rec in records:
            view.apply_record(rec)


class EngineBatch(ev.EventHandler):
    """One drained batch of a run trained in this app: collects its chart points, writes the log pane,
    notifies. The controller feeds each event to the run view first, then here."""

    def __init__(self, controller) -> None:
        self.controller = controller
        self.panes: RunPanes = controller.panes
        self.records: list[dict] = []
        self.logged = False
        """The engine wrote to log.jsonl: the pane reads the new lines after the batch."""

    def notify(self, message: str, **kwargs) -> None:
        self.controller.screen.notify(message, **kwargs)

    def on_metrics(self, event: ev.Metrics) -> None:
        self.records.append(event.record())

    def on_run_started(self, event: ev.RunStarted) -> None:
        from ..heap import freeze_heap

        freeze_heap()  # the model, MLX and transformers are loaded now
        self.panes.charts.reset(event.max_iterations)
        if event.resumed:
            self.panes.load_earlier_metrics(Path(event.run_dir), self.controller.view)
        self.panes.load_samples(Path(event.run_dir))  # a resume's earlier samples (the file is trimmed by now)
        self.panes.reset_log()  # from here on the pane shows the run's log.jsonl (earlier sessions too)
        self.logged = True

    def on_samples(self, event: ev.Samples) -> None:
        self.panes.samples.add(list(event.records))

    def on_log_line(self, event: ev.LogLine) -> None:
        if self.controller.view.run_dir is None:  # before the run folder is known: the event itself
            self.panes.log_line(event.level, event.message, event.time)
        self.logged = True

    def on_max_iterations_changed(self, event: ev.MaxIterationsChanged) -> None:
        self.panes.charts.set_max_iterations(event.max_iterations)
        self.notify(f"the run now has {event.max_iterations:,} iterations")

    def on_setting_changed(self, event: ev.SettingChanged) -> None:
        self.panes.charts.add_change(event.iteration)
        self.notify(f"{event.key}: {event.old} → {event.new} (from iteration {event.iteration + 1})")

    def on_checkpoint_saved(self, event: ev.CheckpointSaved) -> None:
        if event.reason == "manual":
            self.notify(f"checkpoint saved: {Path(event.path).name}")

    def on_error(self, event: ev.ErrorEvent) -> None:
        self.notify(event.message, severity="warning" if event.recovered else "error",
                    timeout=10 if event.recovered else 15)

    def on_early_stop(self, event: ev.EarlyStop) -> None:
        self.notify(f"early stop: {event.reason}", timeout=10)

    def on_state_changed(self, event: ev.StateChanged) -> None:
        if event.state in (ev.PAUSED, ev.RUNNING, ev.STOPPING) or event.state in ev.FINAL_STATES:
            self.controller.pending = ""
        if event.state in (ev.FINISHED, ev.STOPPED):
            self.notify(f"run {event.state}: {event.reason}" if event.reason else f"run {event.state}")
