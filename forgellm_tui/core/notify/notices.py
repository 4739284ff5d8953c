"""Which engine events are worth a notification, and its title and text.

A run that ends by itself (finished, early stop, the loss watchdog), fails, or recovers from an out
of memory. A stop the user asked for (stop key, Ctrl-C, a signal, quitting the app) is not: the user
is there.
"""

from __future__ import annotations

from dataclasses import dataclass

from forgellm_tui.core import events as ev
from forgellm_tui.core.runs import stop_cause

#: stop causes of a ``stopped`` run that the user did not ask for
UNASKED_STOPS = frozenset({stop_cause.EARLY_STOP, stop_cause.WATCHDOG})
TITLE = "ForgeLLM"


@dataclass(frozen=True)
class Notice:
    title: str
    body: str


def notice_for(event: ev.Event, run_name: str = "") -> Notice | None:
    """The notice for ``event`` of the run ``run_name``, or None when it is not worth one."""
    who = f"{run_name}: " if run_name else ""
    if isinstance(event, ev.ErrorEvent) and event.kind == "oom" and event.recovered:
        return Notice(f"{TITLE}: out of memory, recovered", f"{who}{event.message}")
    if not isinstance(event, ev.StateChanged):
        return None
    why = f": {event.reason}" if event.reason else ""
    if event.state == ev.FINISHED:
        return Notice(f"{TITLE}: run finished", f"{who}finished at iteration {event.iteration}")
    if event.state == ev.FAILED:
        return Notice(f"{TITLE}: run failed", f"{who}failed at iteration {event.iteration}{why}")
    if event.state == ev.STOPPED and event.cause in UNASKED_STOPS:
        return Notice(f"{TITLE}: run stopped", f"{who}stopped at iteration {event.iteration}{why}")
    return None
