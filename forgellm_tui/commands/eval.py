"""``forgellm-tui eval``: test perplexity and multiple-choice accuracy of checkpoints, against the base model.

Exit status: 0 done; 2 bad input (one line says what to fix; no result file is written).
"""

from __future__ import annotations

import json

EPILOG = ("Adapters are applied in memory (never fused); one model load evaluates the base model and every chosen "
          "checkpoint on the same tokens. Results are written to RUN/eval/<checkpoint>.json and reused while the "
          "data, task files, model and adapter are unchanged. Task file lines: "
          '{"query": "...", "choices": ["...", "..."], "gold": 0}. Exit status: 0 ok, 2 error (nothing written).')


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate checkpoints or a model: test perplexity and multiple-choice tasks",
                       description="Measure test-split perplexity (and multiple-choice tasks) of a run's checkpoints "
                                   "and its base model, or of one model.", epilog=EPILOG)
    p.add_argument("target", metavar="TARGET", help="a run folder (models/cpt/<run>), a published model or a base model")
    p.add_argument("--checkpoint", metavar="WHICH", help="best (default), latest, an iteration number, or all")
    p.add_argument("--data", metavar="DIR|FILE", help="prepared data folder or JSONL file (default: the run's data)")
    p.add_argument("--split", choices=("test", "valid"), default="test", help="split of --data (default test)")
    p.add_argument("--tasks", metavar="FILE.jsonl", nargs="+", default=[], help="multiple-choice task files")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows and task items")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="rows per forward pass (default 8)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    from forgellm_tui.core.evaluate import EvalRequest, evaluate

    from . import ProgressLines, settings_from

    request = EvalRequest(args.target, checkpoint=args.checkpoint, data=args.data, split=args.split,
                          tasks=tuple(args.tasks), limit=args.limit, batch_size=args.batch_size)
    report = evaluate(request, settings_from(args), progress=None if args.json else ProgressLines(stderr=True))
    if args.json:
        print(json.dumps(report.results, indent=2))
    else:
        print(summary(report))
    return 0


def _ppl(numbers: dict | None) -> str:
    return f"loss {numbers['loss']:.4f}  perplexity {numbers['perplexity']:,.2f}" if numbers else "no loss tokens"


def _tasks(tasks: dict) -> list[str]:
    lines = []
    for name, t in tasks.items():
        se = f" ± {t['acc_stderr']:.3f}" if t["acc_stderr"] is not None else ""
        se_norm = f" ± {t['acc_norm_stderr']:.3f}" if t["acc_norm_stderr"] is not None else ""
        lines.append(f"    {name}: acc {t['acc']:.3f}{se}, acc_norm {t['acc_norm']:.3f}{se_norm} "
                     f"({t['items']} items, chance {t['chance']:.3f})")
    return lines


def summary(report) -> str:
    first = report.results[0]
    data = first["data"]
    lines = [f"evaluated {report.target.path}" + (f" on {data['path']} ({data['rows']:,} rows, "
                                                   f"{data['loss_tokens']:,} loss tokens)" if data else "")]
    if report.reused:
        lines.append(f"  {report.reused} result(s) reused: nothing changed since they were computed")
    base = first["base"]
    if base is not None:
        lines.append(f"  base model: {_ppl(base['perplexity'])}")
        lines += _tasks(base["tasks"])
    for result, path in zip(report.results, report.paths):
        name = f"checkpoint {result['checkpoint']}" if result["checkpoint"] else report.target.name
        if result["checkpoint"] == "best" and result["iteration"] is not None:
            name += f" (iteration {result['iteration']})"
        lines.append(f"  {name}: {_ppl(result['perplexity'])}{_verdict(result['change'])}")
        lines += _tasks(result["tasks"])
        lines.append(f"    saved in {path}")
    return "\n".join(lines)


def _verdict(change: dict | None) -> str:
    if change is None:
        return ""
    pct = change["perplexity_pct"]
    word = "better than" if pct < 0 else "worse than" if pct > 0 else "the same as"
    return f"  ({pct:+.1f}% perplexity: {word} the base model)"
