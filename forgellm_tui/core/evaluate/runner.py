"""One evaluation: load the model once, score the base, then swap in each checkpoint's adapter weights.

Adapters are applied in memory, never fused: the run's LoRA/DoRA layers (or trainable full layers)
are built once on the loaded base model, and each checkpoint only replaces those weights. Every
model sees the same token rows and task items. Result files are written at the end, all or none.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from forgellm_tui.core.errors import DataError
from forgellm_tui.core.evaluate import results as res
from forgellm_tui.core.evaluate.adapters import attach, check_fit, load_adapter
from forgellm_tui.core.evaluate.scoring import check_cancel, choice_logliks, split_loss
from forgellm_tui.core.evaluate.targets import Target, adapter_file, resolve_target, split_file, workspace_path
from forgellm_tui.core.evaluate.tasks import TaskFile, load_tasks, score_items

Progress = Callable[[int, int, str], None]


@dataclass
class EvalRequest:
    target: str | Path
    checkpoint: str | None = None      # best | latest | ITER | all (run targets only; default best)
    data: str | Path | None = None     # prepared folder or JSONL file (default: the run's data)
    split: str = "test"
    tasks: tuple[str | Path, ...] = ()
    limit: int | None = None           # first N rows of the split and items of each task file
    batch_size: int = 8


@dataclass
class EvalReport:
    target: Target
    results: list[dict] = field(default_factory=list)   # one per checkpoint (or the model), in order
    paths: list[Path] = field(default_factory=list)
    reused: int = 0


@dataclass
class _Inputs:
    cfg: object
    data_path: Path | None
    rows: object                   # TokenRows of the split (None without data)
    tasks: list[TaskFile]
    tokenizer: object
    batch_size: int = 8


def evaluate(request: EvalRequest, settings, progress: Progress | None = None,
             cancel: threading.Event | None = None) -> EvalReport:
    """Evaluate ``request.target`` (see :class:`EvalRequest`); ForgeError for bad input, before anything is written."""
    if request.limit is not None and request.limit < 1:
        raise DataError(f"--limit {request.limit} must be at least 1")
    target = resolve_target(request.target, settings, request.checkpoint)
    inputs = _inputs(request, target, settings)
    labels = [c.label for c in target.checkpoints] or [target.name]
    adapters = [adapter_file(c) for c in target.checkpoints] or [None]
    base_key = _key(request, target, inputs)
    keys = [dict(base_key, adapter=res.sha256_file(a) if a else None) for a in adapters]
    paths = [res.result_path(target.out_dir, label) for label in labels]
    stored = [res.reusable(p, k) for p, k in zip(paths, keys)]
    report = EvalReport(target, paths=paths, reused=sum(s is not None for s in stored))
    pending = [i for i, s in enumerate(stored) if s is None]
    fresh = _compute(target, inputs, [target.checkpoints[i] for i in pending] if target.checkpoints else [],
                     progress, cancel) if pending else {}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n, i in enumerate(pending):
        numbers = fresh["models"][n]
        stored[i] = _result(target, labels[i], target.checkpoints[i].iteration if target.checkpoints else None,
                            keys[i], inputs, numbers, fresh.get("base"), stamp, fresh["seconds"])
    for i in pending:
        res.write_result(paths[i], stored[i])
    report.results = stored
    return report


def _inputs(request: EvalRequest, target: Target, settings) -> _Inputs:
    from forgellm_tui.core.config import from_dict
    from forgellm_tui.core.tokens import tokenize
    from forgellm_tui.core.training import load_tokenizer, read_split

    data_path = split_file(target, request.data, request.split, settings)
    tasks = [load_tasks(workspace_path(p, settings), request.limit) for p in request.tasks]
    if data_path is None and not tasks:
        raise DataError("nothing to evaluate: a model has no data of its own", path=target.path,
                        hint="give --data DIR (prepared data) or FILE.jsonl, and/or --tasks FILE.jsonl")
    raw = {k: v for k, v in target.config.items() if k not in ("model", "data")}
    cfg = from_dict(raw, require=())
    rows = None
    if data_path is not None:
        lines, fmt = read_split(data_path, cfg)
        if not lines:
            raise DataError(f"{data_path.name} has no rows", path=data_path,
                            hint="prepare the data again with more text, or use --split valid")
        if fmt != "text" and not cfg.is_ift:  # conversations measured on a model or a CPT run: answers only
            cfg = from_dict(dict(raw, training_type="ift"), require=())
    tokenizer = load_tokenizer(target.model_path, cfg)
    if data_path is not None:
        rows = tokenize(lines[:request.limit] if request.limit else lines, fmt, tokenizer, cfg)
    return _Inputs(cfg, data_path, rows, tasks, tokenizer, max(1, int(request.batch_size)))


def _key(request: EvalRequest, target: Target, inputs: _Inputs) -> dict:
    data = None
    if inputs.data_path is not None:
        data = {"path": str(inputs.data_path.resolve()), "sha256": res.sha256_file(inputs.data_path),
                "rows": len(inputs.rows), "max_seq_length": inputs.cfg.max_seq_length,
                "mask_prompt": inputs.cfg.effective_mask_prompt, "train_on": inputs.cfg.effective_train_on}
    tasks = [{"name": t.name, "path": str(t.path.resolve()), "sha256": t.sha256, "items": len(t.items)}
             for t in inputs.tasks]
    return {"data": data, "tasks": tasks, "limit": request.limit, "model": res.model_identity(target.model_path)}


def _compute(target: Target, inputs: _Inputs, checkpoints: list, progress: Progress | None,
             cancel: threading.Event | None) -> dict:
    """Numbers of the base (for a run) and of each checkpoint, from one model load."""
    from forgellm_tui.core.training import load_model

    started = time.perf_counter()
    if checkpoints:
        check_fit(target.model_path, checkpoints, inputs.cfg)
    model, _ = load_model(target.model_path, inputs.cfg)
    model.eval()
    rounds = 1 + len(checkpoints) if checkpoints else 1
    per_round = (len(inputs.rows) if inputs.rows is not None else 0) + sum(len(t.items) for t in inputs.tasks)
    state = {"round": 0}

    def tick(done: int, what: str) -> None:
        if progress is not None:
            progress(state["round"] * per_round + done, rounds * per_round, what)

    out: dict = {"models": []}
    first = _measure(model, inputs, tick, cancel, "base model" if checkpoints else target.name)
    if not checkpoints:
        out["models"].append(first)
    else:
        out["base"] = first
        attach(model, checkpoints[0].path)
        for chosen in checkpoints:
            state["round"] += 1
            load_adapter(model, chosen.path)
            out["models"].append(_measure(model, inputs, tick, cancel, f"checkpoint {chosen.label}"))
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def _measure(model, inputs: _Inputs, tick, cancel, name: str) -> dict:
    numbers: dict = {"perplexity": None, "tasks": {}}
    done = 0
    if inputs.rows is not None:
        loss_sum, tokens = split_loss(model, inputs.rows, inputs.cfg.max_seq_length, inputs.batch_size, cancel,
                                      lambda n: tick(n, f"{name}: perplexity"))
        numbers["perplexity"] = res.perplexity_numbers(loss_sum, tokens)
        done = len(inputs.rows)
    for task in inputs.tasks:
        logliks = []
        for item in task.items:
            check_cancel(cancel)
            logliks.append(choice_logliks(model, inputs.tokenizer, item.query, item.choices))
            done += 1
            tick(done, f"{name}: {task.name}")
        numbers["tasks"][task.name] = score_items(task.items, logliks)
    return numbers


def _result(target: Target, label: str, iteration, key: dict, inputs: _Inputs, numbers: dict, base: dict | None,
            stamp: str, seconds: float) -> dict:
    data = None
    if inputs.data_path is not None:
        data = dict(key["data"], tokens=inputs.rows.tokens,
                    loss_tokens=(numbers["perplexity"] or {}).get("tokens", 0))
    out = {"format": res.RESULT_FORMAT, "version": res.RESULT_VERSION, "target": str(target.path),
           "kind": target.kind, "checkpoint": label if target.kind == "run" else None, "iteration": iteration,
           "base_model": str(target.model_path), "key": key, "data": data,
           "perplexity": numbers["perplexity"], "tasks": numbers["tasks"], "base": base,
           "change": res.change(numbers["perplexity"], (base or {}).get("perplexity")),
           "created_at": stamp, "seconds": seconds}
    return out
