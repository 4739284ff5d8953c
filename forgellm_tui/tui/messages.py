"""Messages posted by thread workers and read by screens (attributes down, messages up).

Progress messages use ``can_replace`` so that only the newest value is handled when the UI is
busy; "finished" messages are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class DeviceReady(Message):
    """Device and BLAS are known (read in a thread: it imports ``mlx.core``)."""

    label: str
    hint: str | None = None


@dataclass
class ScanProgress(Message):
    """The dataset scan counted ``done`` of ``total`` files; ``rel`` is the current file."""

    done: int
    total: int
    rel: str = ""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgress)


@dataclass
class ScanFinished(Message):
    """A dataset scan ended: ``scan`` is a ``DatasetScan`` or None, ``error`` a one-line message."""

    scan: Any = None
    error: str | None = None


@dataclass
class PrepareProgress(Message):
    """Data preparation progress (``message`` says which step)."""

    done: int
    total: int
    message: str = ""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PrepareProgress)


@dataclass
class PrepareFinished(Message):
    """Preparation ended: ``result`` is a ``PrepareResult`` or None, ``error`` a one-line message."""

    result: Any = None
    error: str | None = None
    cancelled: bool = False


@dataclass
class PreviewLoaded(Message):
    """The start of a file, read in a thread for the preview pane; ``kind`` the training data a JSONL
    file holds ("cpt", "ift", "preference"), None when it tells none."""

    path: str
    text: str
    kind: str | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PreviewLoaded)


@dataclass
class DataPrepared(Message):
    """Posted to the app when ``data/<name>`` was written, so other screens can refresh."""

    output_dir: str


@dataclass
class ListingLoaded(Message):
    """Rows read from the workspace in a thread (``name`` says which list)."""

    name: str
    rows: list


# ---------------------------------------------------------------------- across screens


@dataclass
class OpenInChat(Message):
    """Chat with a model: ``model_path`` (base or published model) plus an optional adapter folder.

    The Checkpoints screen switches to the chat mode and posts this to the chat screen; unhandled
    there, it bubbles up to the app.
    """

    model_path: str
    adapter_path: str | None = None


@dataclass
class ResumeRun(Message):
    """Continue a run from its newest complete checkpoint (``forgellm-tui train --resume RUN_DIR``).

    Posted to the training screen after the Checkpoints screen switches to the training mode.
    """

    run_dir: str


@dataclass
class ShowRun(Message):
    """Select the run folder ``run_dir`` (resolved) on the Checkpoints screen once it has read its runs.

    Posted to the Checkpoints screen after the Training screen switches to the checkpoints mode (``o``).
    """

    run_dir: str


# ---------------------------------------------------------------------- Checkpoints screen


@dataclass
class RunDetailLoaded(Message):
    """One run's checkpoints, curves and config (a ``core.run_analysis.RunDetail``), read in a thread."""

    path: str
    detail: Any = None
    error: str | None = None
    samples: list | None = None   # the run's samples.jsonl records

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunDetailLoaded)


@dataclass
class CompareLoaded(Message):
    """Summary rows (``core.run_analysis.CompareRow``) of the runs being compared."""

    rows: list


@dataclass
class PublishProgress(Message):
    """A step of publishing (fusing, writing the model card, …); ``fraction`` done (0..1) when known."""

    message: str
    fraction: float | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PublishProgress)


@dataclass
class PublishFinished(Message):
    """Publishing ended: ``result`` is a ``core.publish.PublishResult`` or None, ``error`` a one-line message."""

    result: Any = None
    error: str | None = None


@dataclass
class EvalProgress(Message):
    """Evaluation progress: ``done`` of ``total`` rows and task items, and what is being measured."""

    done: int
    total: int
    detail: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EvalProgress)


@dataclass
class EvalFinished(Message):
    """An evaluation ended: ``label`` of the checkpoint, ``error`` a one-line message, or ``cancelled``."""

    run_dir: str
    label: str
    error: str | None = None
    cancelled: bool = False


@dataclass
class DeleteFinished(Message):
    """A checkpoint, run or published model was deleted (``what``), or ``error`` says why not."""

    what: str = ""
    error: str | None = None


# ---------------------------------------------------------------------- Chat screen


@dataclass
class ModelsFound(Message):
    """``core.models.discover`` finished: ``refs`` are ``ModelRef``s (read in a thread)."""

    refs: list


@dataclass
class ModelLoadProgress(Message):
    """A step of loading a model (``checking files``, ``loading tokenizer``, …)."""

    message: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ModelLoadProgress)


@dataclass
class ModelLoaded(Message):
    """A load ended: ``ref`` is the loaded ``ModelRef``, or ``error`` a one-line message."""

    ref: Any = None
    error: str | None = None


@dataclass
class ReplyFinished(Message):
    """A reply ended: ``stats`` is its ``ReplyStats`` (None when nothing ran), ``error`` a one-line message."""

    stats: Any = None
    error: str | None = None
