"""One dispatcher routes every kind of engine event: the status panel's run view and the headless
progress printer both take their events through it."""

from __future__ import annotations

import dataclasses
import inspect
import io
from dataclasses import dataclass, field
from pathlib import Path

from forgellm_tui.commands.train_progress import Printer
from forgellm_tui.core import events as ev
from forgellm_tui.tui.run_view import RunView

DUMMY = {int: 1, float: 1.0, str: "x", bool: False, Path: Path("/tmp/run"), "int": 1, "float": 1.0, "str": "x",
         "bool": False, "Path": Path("/tmp/run")}


def event_kinds() -> list[type]:
    """Every event class the engine may emit (the subclasses of ``Event`` in core.events)."""
    return [cls for _name, cls in inspect.getmembers(ev, inspect.isclass)
            if issubclass(cls, ev.Event) and cls is not ev.Event]


def sample(cls: type) -> ev.Event:
    """An instance of ``cls`` with a plain value in each required field."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kind = str(f.type).split(" | ")[0]
            values[f.name] = DUMMY.get(kind, 1.0)
    return cls(**values)


class Recorder(ev.EventHandler):
    """Records which handler method each event reached."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, type]] = []

    def __getattribute__(self, name: str):
        if name.startswith("on_"):
            return lambda event: object.__getattribute__(self, "calls").append((name, type(event)))
        return object.__getattribute__(self, name)


@dataclass(frozen=True)
class FutureEvent(ev.Event):
    """A kind of event this code does not know (a newer engine's)."""

    detail: str = "new"
    time: float = field(default=0.0)


def test_every_event_kind_reaches_its_own_handler_method():
    kinds = event_kinds()
    assert len(kinds) == 12  # RunStarted, Metrics, Validation, CheckpointSaved, Samples, SettingChanged, ...
    recorder = Recorder()
    for cls in kinds:
        ev.dispatch(sample(cls), recorder)
    methods = [name for name, _cls in recorder.calls]
    assert [cls for _name, cls in recorder.calls] == kinds
    assert "on_other" not in methods and len(set(methods)) == len(kinds)  # one method per kind
    assert all(callable(getattr(ev.EventHandler, name)) for name in methods)


def test_an_unknown_event_is_ignored_by_the_run_view_and_the_printer():
    recorder = Recorder()
    ev.dispatch(FutureEvent(), recorder)
    assert recorder.calls == [("on_other", FutureEvent)]
    view = RunView(state="running")
    before = dataclasses.asdict(view)
    view.apply_event(FutureEvent())
    assert dataclasses.asdict(view) == before
    out = io.StringIO()
    Printer(out)(FutureEvent())
    assert out.getvalue() == ""


def test_the_run_view_and_the_printer_read_the_same_events():
    events = [ev.RunStarted(Path("/tmp/run"), "demo", "cpt", "lora", 0, 10, 100, 10, 5000, 1000, 50000),
              ev.Metrics(4, "2026-01-15T10:30:00Z", 2.5, 2.75, 1e-3, 900.0, 0.5, None, 1.25, 800, 0.5, 12.0, 10),
              ev.MaxIterationsChanged(20, 4),
              ev.CheckpointSaved(4, Path("/tmp/run/checkpoints/0000004"), "manual"),
              ev.ErrorEvent("batch 8 did not fit: now 4", kind="oom", recovered=True, iteration=5),
              ev.StateChanged(ev.STOPPED, 6, "stopped by user")]
    view, out = RunView(state="starting"), io.StringIO()
    printer = Printer(out)
    for event in events:
        view.apply_event(event)
        printer(event)
    assert (view.name, view.max_iterations, view.iteration, view.state) == ("demo", 20, 6, "stopped")
    assert (view.last_val, view.gradient_norm, view.notice) == (2.75, 1.25, "batch 8 did not fit: now 4")
    assert view.last_checkpoint == "0000004 (manual)"
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("training demo: cpt lora, 1,000 of 50,000 parameters trainable")
    assert lines[1] == "run folder: /tmp/run"
    assert lines[2].startswith("it      4/10  train 2.500  val 2.750  lr 1.00e-03  900 tok/s  gn 1.25  ep 0.50")
    assert lines[3:] == ["max_iterations is now 20", "saved checkpoint 0000004 (manual) at iteration 4",
                         "recovered: batch 8 did not fit: now 4"]
