"""``forgellm-tui prepare``: turn ``dataset/`` into training data under ``data/NAME``.

Exit status: 0 done (files that are not text — images, archives, dangling links … — are skipped
and listed with the reason: that is normal); 1 done, but lines of the IFT or preference input were invalid and
left out (listed); 2 nothing written (a one-line error says what to fix).
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import ProgressLines, settings_from

EPILOG = ("CPT chunks text by the model's tokens: rows are <= target tokens + EOS (+ BOS when the tokenizer "
          "adds one), so set the training max_seq_length to target + that overhead (printed at the end). "
          "Preference: JSONL lines {\"prompt\" (or \"messages\"), \"chosen\", \"rejected\"}, split by prompt. "
          "Exit status: 0 ok (skipped files are listed with the reason), 1 done but invalid IFT or preference lines "
          "were left out, "
          "2 error (nothing written).")


def register(sub) -> None:
    p = sub.add_parser("prepare", help="prepare CPT, IFT or preference training data from the dataset folder",
                       description="Prepare CPT text chunks, IFT conversations or preference pairs into data/NAME "
                                   "(train.jsonl, valid.jsonl, test.jsonl, manifest.json).", epilog=EPILOG)
    p.add_argument("--kind", choices=("cpt", "ift", "preference"), default="cpt",
                   help="cpt: raw text (default); ift: chat JSONL; preference: chosen/rejected pairs (DPO, ORPO)")
    p.add_argument("--name", help="output folder name under the data folder (default: the kind)")
    p.add_argument("--model", metavar="PATH", help="model folder (or name under models/base) whose tokenizer to use")
    p.add_argument("--target-tokens", type=int, default=512, metavar="N",
                   help="CPT tokens per chunk; IFT: warn about longer conversations and count the supervised "
                        "tokens lost past it (default 512)")
    p.add_argument("--valid-fraction", type=float, default=0.1, metavar="F", help="validation share (default 0.1)")
    p.add_argument("--test-fraction", type=float, default=0.05, metavar="F",
                   help="share held out for `forgellm-tui eval` (default 0.05; 0 = no test split)")
    p.add_argument("--mix-ratio", type=float, default=0.8, metavar="R",
                   help="CPT domain share; 1-R comes from general/ (default 0.8; 1 = no general text)")
    p.add_argument("--seed", type=int, default=42, help="split and shuffle seed (default 42)")
    p.add_argument("--dataset", metavar="DIR", help="raw dataset folder (default: the workspace's dataset/)")
    p.add_argument("--general", metavar="DIR", help="general text for mixing (default: DATASET/general)")
    p.add_argument("--input", metavar="PATH",
                   help="IFT or preference JSONL file or folder (default: DATASET/ift or DATASET/preference)")
    p.set_defaults(handler=run)


def resolve_model(value: str | None, settings, *, required: bool) -> Path | None:
    """A model folder from a path or a name under models/base; None (or an error) when not given."""
    from forgellm_tui.core.errors import ModelError
    from forgellm_tui.core.tokens import has_tokenizer_files

    if value:
        for candidate in (Path(value).expanduser(), settings.base_models_dir / value, settings.models_dir / value):
            if candidate.is_dir():
                return candidate
        raise ModelError("model folder not found", path=value,
                         hint=f"give a folder path or a model name under {settings.base_models_dir}")
    base = settings.base_models_dir
    found = sorted(d for d in base.iterdir() if d.is_dir() and has_tokenizer_files(d)) if base.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not required:
        return None
    if not found:
        raise ModelError("no model to tokenize with", path=base, hint="pass --model PATH (a folder with tokenizer.json)")
    names = ", ".join(d.name for d in found[:5])
    raise ModelError(f"several models ({names})", path=base, hint="choose one with --model NAME")


def run(args) -> int:
    from forgellm_tui.core.datasets import PrepareOptions, check_replaceable, prepare
    from forgellm_tui.core.names import check_name

    name = check_name(args.name or args.kind, "--name")
    settings = settings_from(args)
    dataset = Path(args.dataset).expanduser() if args.dataset else settings.dataset_dir
    model = resolve_model(args.model, settings, required=args.kind == "cpt")
    given = Path(args.input) if args.input else None
    options = PrepareOptions(
        kind=args.kind, dataset_dir=dataset, output_dir=settings.data_dir / name, model_path=model,
        target_tokens=args.target_tokens, valid_fraction=args.valid_fraction,
        test_fraction=args.test_fraction, seed=args.seed,
        mix_ratio=args.mix_ratio, general_dir=Path(args.general) if args.general else None,
        ift_input=given if args.kind == "ift" else None, preference_input=given if args.kind == "preference" else None)
    check_replaceable(options.output_dir)  # before any output: a refused run prints one line only
    source = {"ift": options.ift_path, "preference": options.preference_path}.get(args.kind, dataset)
    print(f"preparing {args.kind.upper()} data from {source}"
          + (f" with the tokenizer of {model}" if model else ""), flush=True)
    result = prepare(options, progress=ProgressLines())
    print(summary(result, options))
    if result.bad_line_count:
        print(f"done with problems: {result.bad_line_count} line(s) skipped as invalid (listed above); "
              f"clean data written to {result.output_dir}", file=sys.stderr)
        return 1
    return 0


def summary(result, options) -> str:
    from forgellm_tui.core.datasets import printable

    unit = "pairs" if result.kind == "preference" else "records"
    lines = [f"prepared {result.kind.upper()} data in {result.output_dir} ({result.seconds:.1f} s, "
             f"tokenizer {result.tokenizer_used})",
             f"  train: {result.train_records:,} {unit}, {result.train_tokens:,} tokens",
             f"  valid: {result.valid_records:,} {unit}, {result.valid_tokens:,} tokens"]
    if result.test_records:
        lines.append(f"  test: {result.test_records:,} {unit}, {result.test_tokens:,} tokens")
    lines += supervision_lines(result) + pair_lines(result)
    if result.kind == "cpt":
        lines.insert(1, f"  documents: {result.documents:,}")
        if result.general_records:
            lines.append(f"  general text: {result.general_records:,} records ({result.general_share:.0%} of tokens)")
        lines.append(f"  rows: <= {options.target_tokens} tokens + {result.row_overhead} added by mlx-lm "
                     f"-> use max_seq_length {options.target_tokens + result.row_overhead}")
    for warning in result.warnings:
        lines.append(f"  warning: {warning}")
    if result.skipped:
        lines.append(f"  skipped {len(result.skipped)} file(s):")
        lines += [f"    {printable(s.rel)}: {s.reason}" for s in result.skipped[:20]]
        if len(result.skipped) > 20:
            lines.append(f"    … and {len(result.skipped) - 20} more (see manifest.json)")
    if result.bad_line_count:
        lines.append(f"  skipped {result.bad_line_count} bad line(s):")
        lines += [f"    {b}" for b in result.bad_lines[:20]]
        if result.bad_line_count > 20:
            lines.append(f"    … and {result.bad_line_count - 20} more (see manifest.json)")
    return "\n".join(lines)


def supervision_lines(result) -> list[str]:
    """Supervised tokens (what the IFT loss sees) per split file and in total, and what a cut loses."""
    splits = getattr(result, "supervision", None) or {}
    if not splits:
        return []
    lines = [f"  supervised tokens (every assistant turn, chat template applied; cut at "
             f"{result.supervision_length:,} tokens):"]
    total = {"tokens": 0, "supervised": 0, "lost": 0}
    for split, found in splits.items():
        lines.append(f"    {split + '.jsonl':<12} {found['supervised']:>11,} of {found['tokens']:>11,} tokens, "
                     f"{found['lost']:,} lost to truncation")
        total = {k: total[k] + found[k] for k in total}
    lines.append(f"    {'total':<12} {total['supervised']:>11,} of {total['tokens']:>11,} tokens, "
                 f"{total['lost']:,} lost to truncation")
    return lines


def pair_lines(result) -> list[str]:
    """Preference data: pairs and prompt / chosen / rejected tokens per split file."""
    splits = getattr(result, "pair_tokens", None) or {}
    if not splits:
        return []
    lines = ["  pairs and tokens per split (prompt / chosen / rejected):"]
    for split, found in splits.items():
        lines.append(f"    {split + '.jsonl':<12} {found['pairs']:>7,} pairs  {found['prompt_tokens']:>10,} / "
                     f"{found['chosen_tokens']:>10,} / {found['rejected_tokens']:>10,} tokens")
    return lines
