"""One real short training run on the demo workspace, trained once per session and cloned per test.

The run (12 iterations, a checkpoint every 4, validation every 4) has checkpoints 4, 8 and 12 and a
``best/``. ``clone`` gives a test its own workspace: the run folder and configs are copied, the
big read-only parts (base model, data) are symlinked, so tests may damage their copy freely.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

RUN = "demo-run"
ITERS, EVERY = 12, 4
_CACHE: dict[str, Path] = {}


def trained_workspace(tmp_path_factory, demo_dir: Path) -> Path:
    """The demo workspace with ``models/cpt/demo-run`` trained (once per test session)."""
    if "ws" not in _CACHE:
        from forgellm_tui.core.training.engine import train

        from train_helpers import make_cfg

        ws = tmp_path_factory.mktemp("trained") / "ws"
        shutil.copytree(demo_dir, ws, symlinks=True)
        result = train(make_cfg(ws, name=RUN, max_iterations=ITERS, save_every=EVERY, steps_per_eval=EVERY))
        assert result.status == "finished", result
        _CACHE["ws"] = ws
    return _CACHE["ws"]


def clone(src: Path, dst: Path) -> Path:
    """A workspace of its own: runs and configs copied, base models and data linked."""
    for sub in ("models/base", "published"):
        (dst / sub).mkdir(parents=True, exist_ok=True)
    for model in (src / "models" / "base").iterdir():
        (dst / "models" / "base" / model.name).symlink_to(model, target_is_directory=True)
    for sub in ("models/cpt", "models/ift", "configs"):
        if (src / sub).is_dir():
            shutil.copytree(src / sub, dst / sub)
    for sub in ("data", "dataset"):
        (dst / sub).symlink_to(src / sub, target_is_directory=True)
    for cfg in (dst / "models").glob("*/*/**/adapter_config.json"):  # absolute base paths: this workspace's
        data = json.loads(cfg.read_text())
        if isinstance(data.get("model"), str):
            data["model"] = data["model"].replace(str(src), str(dst))
        cfg.write_text(json.dumps(data))
    return dst


def run_dir(ws: Path) -> Path:
    return ws / "models" / "cpt" / RUN


def mark_running(run: Path) -> None:
    """Make run.json say this run is training in a live process (this test's own pid)."""
    info = json.loads((run / "run.json").read_text())
    info.update(status="running", pid=os.getpid(), host=socket.gethostname(), ended_at=None)
    (run / "run.json").write_text(json.dumps(info))


def leftovers(folder: Path) -> list[str]:
    """Names in ``folder`` (temporary build folders included)."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def write_fake_run(ws: Path, name: str, *, val: dict[int, float], train: dict[int, float], checkpoints=(),
                   best: int | None = None, status: str = "finished", kind: str = "cpt",
                   started: str = "2026-01-15T10:30:00Z", model: str = "models/base/gpt2-xl") -> Path:
    """A hand-written run folder with fixed numbers (no MLX): for snapshots and listing tests.

    Checkpoint folders hold placeholder files: complete for listing, not loadable as adapters.
    """
    run = ws / "models" / kind / name
    run.mkdir(parents=True)
    iters = max([*val, *train, 0])
    (run / "config.yaml").write_text(f"name: {name}\ntraining_type: {kind}\nmodel: {model}\ndata: data/{kind}-demo\n"
                                     f"max_iterations: {iters}\nbatch_size: 4\nlearning_rate: 0.0001\nseed: 0\n")
    records = [{"iteration": it, "timestamp": started, "training_loss": train.get(it),
                "validation_loss": val.get(it), "learning_rate": 1e-4, "tokens_per_second": 1000.0,
                "trained_tokens": it * 512} for it in sorted({*val, *train})]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    best_val = val.get(best) if best is not None else None
    (run / "run.json").write_text(json.dumps({
        "name": name, "status": status, "training_type": kind, "fine_tune_type": "lora", "model": model,
        "data": f"data/{kind}-demo", "started_at": started, "updated_at": started, "iteration": iters,
        "max_iterations": iters, "best_iteration": best, "best_validation_loss": best_val, "pid": None}))
    folders = [run / "checkpoints" / f"{it:07d}" for it in checkpoints] + ([run / "best"] if best else [])
    for folder, it in zip(folders, [*checkpoints, best]):
        folder.mkdir(parents=True)
        for file in ("adapters.safetensors", "adapter_config.json"):
            (folder / file).write_text("{}")
        (folder / "state.json").write_text(json.dumps({"iteration": it}))
    return run
