"""Reading a run's evaluation results (``<run>/eval/<checkpoint>.json``, written by ``forgellm-tui eval``).

The file format lives here, below the evaluator, so the ranking and ``publish`` can read the results
without importing the evaluator (which sits above training).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVAL_DIR = "eval"
EVAL_FORMAT = "forgellm-eval"
EVAL_VERSION = 1


@dataclass
class EvalScore:
    """One checkpoint's held-out perplexity and its change against the base model."""

    iteration: int
    split: str                          # the file's name without .jsonl: "test" or "valid"
    perplexity: float
    perplexity_pct: float | None        # relative change against the base model, in percent

    def words(self) -> str:
        """``test perplexity 578.6, −91.5% vs base``."""
        text = f"{self.split} perplexity {self.perplexity:.1f}"
        if self.perplexity_pct is not None:
            text += f", {self.perplexity_pct:+.1f}% vs base".replace("-", "\u2212")
        return text


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("format") == EVAL_FORMAT and data.get("version") == EVAL_VERSION
    return data if ok and isinstance(data.get("iteration"), int) else None


def _split(result: dict) -> str:
    path = (result.get("data") or {}).get("path")
    return Path(path).stem if isinstance(path, str) else "test"


def _comparable(result: dict) -> tuple:
    """Results rank against each other only when measured on the same tokens."""
    data = result.get("data") or {}
    return (data.get("sha256"), data.get("rows"), data.get("max_seq_length"), (result.get("key") or {}).get("limit"))


def read_eval_results(run_dir: str | Path) -> dict[str, dict]:
    """Every readable result of the run by checkpoint label (``0000050``, ``best``)."""
    folder = Path(run_dir) / EVAL_DIR
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        result = _read(path)
        if result is not None:
            found[path.stem] = result
    return found


def eval_scores(run_dir: str | Path) -> dict[int, EvalScore]:
    """Perplexity per checkpoint iteration, from results measured on the same data as the newest one."""
    results = [r for r in read_eval_results(run_dir).values()
               if isinstance((r.get("perplexity") or {}).get("perplexity"), (int, float))]
    if not results:
        return {}
    newest = max(results, key=lambda r: str(r.get("created_at") or ""))
    scores = {}
    for r in results:
        if _comparable(r) == _comparable(newest):
            pct = (r.get("change") or {}).get("perplexity_pct")
            scores[r["iteration"]] = EvalScore(r["iteration"], _split(r), float(r["perplexity"]["perplexity"]),
                                               float(pct) if isinstance(pct, (int, float)) else None)
    return scores


def evaluation_summary(run_dir: str | Path, label: str, iteration: int) -> dict | None:
    """The ``evaluation`` section of a published model's metadata.json, from the checkpoint's result."""
    results = read_eval_results(run_dir)
    result = results.get(label) or next((r for r in results.values() if r["iteration"] == iteration), None)
    if result is None:
        return None
    mine = result.get("perplexity") or {}
    base = (result.get("base") or {}).get("perplexity") or {}
    change = result.get("change") or {}
    return {"split": _split(result) if result.get("data") else None, "tokens": mine.get("tokens"),
            "loss": mine.get("loss"), "perplexity": mine.get("perplexity"),
            "base_loss": base.get("loss"), "base_perplexity": base.get("perplexity"),
            "perplexity_change_pct": change.get("perplexity_pct"), "loss_change": change.get("loss"),
            "tasks": {name: {k: v.get(k) for k in ("items", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr",
                                                   "chance")}
                      for name, v in (result.get("tasks") or {}).items() if isinstance(v, dict)},
            "checkpoint": result.get("checkpoint"), "evaluated_at": result.get("created_at")}


@dataclass(frozen=True)
class EvalSummary:
    """What the Checkpoints table shows for one evaluated checkpoint (None: not measured)."""

    perplexity: float | None
    change_pct: float | None      # perplexity against the base model, in percent (negative: better)
    accuracy: float | None        # mean ``acc`` over the task files (0..1)
    iteration: int | None = None  # of the evaluated weights (best/ shares it with the numbered copy)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_evals(run_dir: str | Path) -> dict[str, EvalSummary]:
    """Each evaluated checkpoint of the run by its label (``best``, ``0000012``), as the table shows it."""
    out = {}
    for label, result in read_eval_results(run_dir).items():
        tasks = result.get("tasks") if isinstance(result.get("tasks"), dict) else {}
        accs = [a for a in (_number(t.get("acc")) for t in tasks.values() if isinstance(t, dict)) if a is not None]
        out[label] = EvalSummary(_number((result.get("perplexity") or {}).get("perplexity")),
                                 _number((result.get("change") or {}).get("perplexity_pct")),
                                 sum(accs) / len(accs) if accs else None, result.get("iteration"))
    return out


def eval_of(evals: dict[str, EvalSummary], label: str, iteration: int) -> EvalSummary | None:
    """The checkpoint's own result, else that of the same weights under the other name: ``best/`` is a
    copy of the numbered checkpoint of its iteration, so evaluating either one measures both."""
    return evals.get(label) or next((e for e in evals.values() if e.iteration == iteration), None)
