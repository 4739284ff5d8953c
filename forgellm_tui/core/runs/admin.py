"""Delete checkpoints, runs and published models, refusing what must be kept.

Protected: a run's ``best/`` (the checkpoint publish and chat default to), the newest checkpoint of
a run that is still training (resume needs it), and a whole run while its process is alive.
A folder is first renamed to a temporary name and then removed, so an interrupted delete never
leaves something that looks like a complete checkpoint or run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError
from forgellm_tui.core.runs.reader import read_run
from forgellm_tui.settings import RUN_FOLDERS

ACTIVE = ("starting", "running", "paused", "stopping")


def _remove(folder: Path) -> Path:
    """Rename ``folder`` aside (atomic), then delete it."""
    aside = Path(tempfile.mkdtemp(prefix=fsio.TMP_PREFIX + folder.name + ".del.", dir=folder.parent))
    try:
        os.replace(folder, aside / folder.name)
    except OSError as exc:
        shutil.rmtree(aside, ignore_errors=True)
        raise ForgeError(f"cannot delete ({exc.strerror})", path=folder, hint="check the folder's permissions") from exc
    shutil.rmtree(aside, ignore_errors=True)
    return folder


def run_is_active(run_dir: Path) -> bool:
    """True while the run's process is training (``run.json`` says so and the pid is alive)."""
    info = read_run(run_dir, with_metrics=False)
    return info is not None and info.status in ACTIVE


def protected_reason(run_dir: str | Path, label: str) -> str | None:
    """Why checkpoint ``label`` ("best" or "0000050") of a run may not be deleted; None when it may."""
    run_dir = Path(run_dir)
    if label == "best":
        return "best/ is the run's best checkpoint and is always kept (delete the whole run instead)"
    if run_is_active(run_dir):
        complete = ck.list_complete(run_dir)
        if complete and complete[-1][1].name == label:
            return "it is the newest checkpoint of a run that is still training (resume needs it)"
    return None


def delete_checkpoint(run_dir: str | Path, which: str | int) -> Path:
    """Delete ``checkpoints/<iteration>/`` (complete or not); ForgeError for protected ones."""
    run_dir = Path(run_dir)
    label = "best" if str(which).lower() == "best" else None
    if label is None:
        try:
            label = f"{int(str(which)):07d}"
        except ValueError:
            raise ForgeError(f"unknown checkpoint '{which}'", path=run_dir, hint="use an iteration number") from None
    folder = run_dir / "best" if label == "best" else run_dir / "checkpoints" / label
    reason = protected_reason(run_dir, label)
    if reason:
        raise ForgeError(f"cannot delete this checkpoint: {reason}", path=folder)
    if not folder.is_dir():
        raise ForgeError("checkpoint not found", path=folder, hint="refresh the list (r)")
    return _remove(folder)


def delete_run(run_dir: str | Path) -> Path:
    """Delete a whole run folder; refused while the run is training."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ForgeError("run folder not found", path=run_dir, hint="refresh the list (r)")
    if not ((run_dir / "run.json").exists() or (run_dir / "checkpoints").is_dir() or (run_dir / "config.yaml").exists()):
        raise ForgeError("not a run folder (no run.json, config.yaml or checkpoints/)", path=run_dir,
                         hint=f"only run folders under {RUN_FOLDERS} can be deleted here")
    if run_is_active(run_dir):
        raise ForgeError("cannot delete a run that is still training", path=run_dir,
                         hint="stop it first (Training screen, or Ctrl-C in its terminal)")
    return _remove(run_dir)


def delete_published(path: str | Path, published_dir: str | Path) -> Path:
    """Delete a published model folder (only inside ``published_dir``)."""
    path, root = Path(path), Path(published_dir)
    if path.resolve().parent != root.resolve() or not path.is_dir():
        raise ForgeError("not a published model folder", path=path, hint=f"pick a folder directly under {root}")
    return _remove(path)
