"""Why a run ended, as one word in ``run.json``'s ``stop_cause`` (``stop_reason`` / ``error`` stay for humans).

Whoever records a run's end writes the cause: the engine (finished, early stop, a stop request, a
failure), the supervisor (a trainer that died), the distributed launcher (rank 0 never recorded).
Decisions about a stopped run (offer to resume it?) read the cause, never the free text.

A ``run.json`` written before the field existed has only the text; :func:`from_old_record` reads the
cause from it, once, when the run folder is read (``core/runs/reader.py``).
"""

from __future__ import annotations

FINISHED = "finished"         # reached max_iterations
EARLY_STOP = "early_stop"     # early stopping (no validation improvement, overfitting)
WATCHDOG = "watchdog"         # the loss watchdog: a non-finite loss or gradient norm, or a loss spike
USER = "user"                 # the stop key in the app, or a program's ``TrainingControl.stop()``
QUIT = "quit"                 # the user quit the app while it trained the run
HANGUP = "hangup"             # the terminal went away (SIGHUP to the app or to a headless run)
SIGNAL = "signal"             # SIGINT/SIGTERM to a headless run (Ctrl-C, kill, a stop asked from another process)
INTERRUPTED = "interrupted"   # cut from outside without a request: the app closed without asking, or the
                              # process died without recording its end (only derived, never written)
OOM = "oom"                   # failed: out of memory with nothing left to halve
ERROR = "error"               # failed for any other reason

CAUSES = (FINISHED, EARLY_STOP, WATCHDOG, USER, QUIT, HANGUP, SIGNAL, INTERRUPTED, OOM, ERROR)

#: runs stopped for a reason outside the run itself: the app offers to resume them on its next start
RESUME_OFFERED = frozenset({HANGUP, QUIT, INTERRUPTED})

# What runs written before ``stop_cause`` existed said. These texts are history: they must not follow
# later changes of the messages the app writes now.
_OLD_QUIT = "stopped by user (quit the app)"
_OLD_CLOSED = "the app closed (resume continues from its checkpoint)"
_OLD_OOM = ("out of memory", "failed memory allocation")


def for_signal(name: str) -> str:
    """The cause of a stop asked by the signal ``name`` (``SIGHUP``, ``SIGTERM`` …)."""
    return HANGUP if name == "SIGHUP" else SIGNAL


def from_old_record(status: str | None, stop_reason: str | None, error: str | None) -> str | None:
    """The cause of an ended run whose ``run.json`` predates ``stop_cause``; None for a run not ended."""
    reason = stop_reason or ""
    if status == "finished":
        return FINISHED
    if status == "failed":
        return OOM if any(words in (error or "").lower() for words in _OLD_OOM) else ERROR
    if status != "stopped":
        return None
    if "SIGHUP" in reason:  # the app's "terminal closed (SIGHUP)", a headless run's "stopped by SIGHUP"
        return HANGUP
    if reason == _OLD_QUIT:
        return QUIT
    if reason == _OLD_CLOSED:
        return INTERRUPTED
    if reason.startswith("early stop"):
        return EARLY_STOP
    if reason.startswith(("stopped by SIG", "aborted with Ctrl-C")):
        return SIGNAL
    return USER
