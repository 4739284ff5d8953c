"""The Training screen's handling of what runs report: engine events of a run trained here, the files
of a followed run folder, and the end of a run."""

from __future__ import annotations

import time
from pathlib import Path

from forgellm_tui.core import events as ev
from ..config_draft import split_errors
from ..run_view import RunView, parse_time
from ..training_messages import FeedReady, FolderRead, RunEnded


class TrainingEvents:
    """Mixin for :class:`~forgellm_tui.tui.screens.training.TrainingScreen`."""

    _log_offset = 0
    """How far the run's log.jsonl was read (a run trained in this app)."""

    def on_feed_ready(self, event: FeedReady) -> None:
        if event.run_id != self.run_id or self.feed is None:
            return
        records, logged = [], False
        for item in self.feed.drain():
            self.view.apply_event(item)
            if isinstance(item, ev.Metrics):
                records.append(item.record())
            elif isinstance(item, ev.RunStarted):
                from ..heap import freeze_heap

                freeze_heap()  # the model, MLX and transformers are loaded now
                self.charts.reset(item.max_iterations)
                if item.resumed:
                    self._load_earlier_metrics(Path(item.run_dir))
                self.reset_log()  # from here on the pane shows the run's log.jsonl (earlier sessions too)
                logged = True
            elif isinstance(item, ev.LogLine):
                if self.view.run_dir is None:  # before the run folder is known: the event itself
                    self.log_line(item.level, item.message, item.time)
                logged = True
            elif isinstance(item, ev.MaxIterationsChanged):
                self.charts.set_max_iterations(item.max_iterations)
            self.engine_event_note(item)
        if logged and self.view.run_dir is not None:
            self._tail_log(self.view.run_dir)
        self.charts.add(records)
        self.status_dirty = True

    def _tail_log(self, run_dir: Path) -> None:
        """The lines the engine appended to the run's log.jsonl since the last read (a few, small)."""
        from forgellm_tui.core.runs.reader import read_log

        lines, self._log_offset = read_log(run_dir, self._log_offset)
        for rec in lines:
            self.log_record(rec)

    def _load_earlier_metrics(self, run_dir: Path) -> None:
        from forgellm_tui.core.runs.reader import read_metrics

        records, _ = read_metrics(run_dir)
        self.charts.add(records)
        for rec in records:
            self.view.apply_record(rec)

    def on_run_ended(self, event: RunEnded) -> None:
        from ..heap import release_heap

        release_heap()  # the run's model was frozen at RunStarted: let it go
        if event.run_id != self.run_id:
            return
        self.on_feed_ready(FeedReady(event.run_id))  # anything still in the feed first
        view = self.view
        if event.error:
            view.state, view.error = "failed", event.error
            self.log_line("error", event.error)
            self.notify(f"run did not start: {self.tidy(event.error)}", severity="error", timeout=15)
            inline, _rest = split_errors(event.fields)
            if inline and not self.quitting:
                self.form.show_errors({k: self.tidy(m) for k, m in inline.items()})
        elif event.result is not None and event.result.status == ev.FAILED:
            view.state, view.error = ev.FAILED, event.result.error or view.error
            self.notify(f"run failed: {view.error}", severity="error", timeout=15)
        self.pending = ""
        self.status_dirty = True
        self.action_refresh()

    def on_folder_read(self, event: FolderRead) -> None:
        view = self.view
        if view is None or view.source != "folder" or str(view.run_dir) != event.run_dir:
            return
        if event.reset:
            self.charts.reset(view.max_iterations)
            self.view = view = RunView(run_dir=view.run_dir, name=view.name, source="folder",
                                       threshold=view.threshold)
        if event.info is not None:
            was_active = view.is_active
            view.apply_info(event.info, event.alive)
            if was_active and not view.is_active and view.state != "reading":
                self.notify(f"{view.name}: {view.state}" + (f" ({view.reason})" if view.reason else ""))
        for rec in event.records:
            view.apply_record(rec)
        for rec in event.logs:
            self.log_record(rec)
        self.charts.set_max_iterations(view.max_iterations)
        self.charts.add(event.records)
        if event.error:
            view.state, view.error = "unknown", event.error
            self.notify(event.error, severity="error", timeout=8)
        if event.done:
            self.pending = ""
        self.status_dirty = True

    def reset_log(self) -> None:
        self.run_log.reset()
        self._log_offset = 0

    def log_record(self, rec: dict) -> None:
        """One line of log.jsonl (``timestamp``, ``level``, ``message``)."""
        self.run_log.add(parse_time(rec.get("timestamp")), str(rec.get("level") or "info"),
                         str(rec.get("message") or ""))

    def log_line(self, level: str, message: str, when: float | None = None) -> None:
        self.run_log.add(time.time() if when is None else when, level, message)

    def engine_event_note(self, event: ev.Event) -> None:
        """The notification (if any) one engine event deserves."""
        if isinstance(event, ev.CheckpointSaved) and event.reason == "manual":
            self.notify(f"checkpoint saved: {Path(event.path).name}")
        elif isinstance(event, ev.ErrorEvent):
            self.notify(event.message, severity="warning" if event.recovered else "error",
                        timeout=10 if event.recovered else 15)
        elif isinstance(event, ev.MaxIterationsChanged):
            self.notify(f"the run now has {event.max_iterations:,} iterations")
        elif isinstance(event, ev.EarlyStop):
            self.notify(f"early stop: {event.reason}", timeout=10)
        elif isinstance(event, ev.StateChanged):
            if event.state in (ev.PAUSED, ev.RUNNING, ev.STOPPING) or event.state in ev.FINAL_STATES:
                self.pending = ""
            if event.state in (ev.FINISHED, ev.STOPPED):
                self.notify(f"run {event.state}: {event.reason}" if event.reason else f"run {event.state}")
