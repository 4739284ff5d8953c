"""Small real training setups on the demo workspace (forge-tiny, a slice of data/cpt-demo)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from forgellm_tui.core.config.model import from_dict

MODEL = "models/base/forge-tiny"


def slice_data(ws: Path, source: str, name: str, train: int, valid: int) -> str:
    """``data/<name>``: the first rows of a prepared demo folder (keeps tests fast)."""
    out = ws / "data" / name
    out.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train), ("valid", valid)):
        lines = (ws / "data" / source / f"{split}.jsonl").read_text().splitlines()[:count]
        (out / f"{split}.jsonl").write_text("".join(line + "\n" for line in lines))
    return f"data/{name}"


def small_cpt(ws: Path) -> str:
    return slice_data(ws, "cpt-demo", "cpt-small", 96, 12)


def small_ift(ws: Path) -> str:
    return slice_data(ws, "ift-demo", "ift-small", 64, 8)


def make_cfg(ws: Path, **over):
    raw = {"model": MODEL, "data": small_cpt(ws) if "data" not in over else over.pop("data"),
           "max_iterations": 6, "batch_size": 2, "max_seq_length": 128, "learning_rate": 1e-3,
           "steps_per_report": 2, "steps_per_eval": 3, "val_batches": 2, "save_every": 3, "lora_rank": 4,
           "seed": 0, "lr_schedule": "constant"}
    raw.update(over)
    return from_dict(raw, workspace=ws)


class Recorder:
    """An ``on_event`` callback that keeps every event, by type name."""

    def __init__(self, hook=None):
        self.events = []
        self.by_type = defaultdict(list)
        self.hook = hook

    def __call__(self, event) -> None:
        self.events.append(event)
        self.by_type[type(event).__name__].append(event)
        if self.hook is not None:
            self.hook(event)

    def states(self) -> list[str]:
        return [e.state for e in self.by_type["StateChanged"]]


def run_dirs(ws: Path) -> list[Path]:
    """Every run folder under ``models/cpt`` and ``models/ift`` (to prove a refused command left none)."""
    return [p for kind in ("cpt", "ift") if (ws / "models" / kind).is_dir() for p in (ws / "models" / kind).iterdir()]


def metrics_lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def small_pref(ws: Path, train: int = 24, valid: int = 8, name: str = "pref-small") -> str:
    """``data/<name>``: preference pairs made from the demo's IFT conversations (the answer is chosen, the
    same words in reverse order are rejected), with a preference manifest."""
    out = ws / "data" / name
    out.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train), ("valid", valid)):
        lines = (ws / "data" / "ift-demo" / f"{split}.jsonl").read_text().splitlines()[:count]
        with open(out / f"{split}.jsonl", "w") as fh:
            for line in lines:
                user, answer = (m["content"] for m in json.loads(line)["messages"][:2])
                pair = {"prompt": user, "chosen": answer, "rejected": " ".join(reversed(answer.split()))}
                fh.write(json.dumps(pair) + "\n")
    (out / "manifest.json").write_text(json.dumps({"kind": "preference"}))
    return f"data/{name}"


def oom_once(at: int):
    """A fault hook that raises Metal's out-of-memory error once, before iteration ``at``."""
    fired = []

    def hook(iteration):
        if iteration == at and not fired:
            fired.append(iteration)
            raise RuntimeError("[METAL] Command buffer execution failed: Insufficient Memory "
                               "(00000008:kIOGPUCommandBufferCallbackErrorOutOfMemory)")

    return hook
