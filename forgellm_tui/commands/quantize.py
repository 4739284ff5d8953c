"""``forgellm-tui quantize SOURCE``: an MLX-quantized copy in published/NAME with its measured quality cost.

SOURCE is a run folder (its checkpoint is fused first), a published model or a base model. The card,
metadata.json and dashboard give the weights' size and the test perplexity before and after.
Exit status: 0 done, 2 bad input (unsupported bits/group size/mode, an already-quantized model, a taken
name, no test data, a full disk: one line on stderr, nothing left in published/), 130 interrupted.
"""

from __future__ import annotations

from . import settings_from


def register(sub) -> None:
    from forgellm_tui.core.export import MODES, RECIPES

    p = sub.add_parser("quantize", help="quantize a model into published/NAME, measuring the perplexity change")
    p.add_argument("source", help="a run folder (models/cpt/<run>), a published model or a base model")
    p.add_argument("--bits", type=int, help="bits per weight: 2, 3, 4, 5, 6 or 8 (default 4; set by --mode/--recipe)")
    p.add_argument("--group-size", type=int, help="weights per scale: 32, 64 or 128 (default 64)")
    p.add_argument("--mode", default="affine", choices=MODES, help="quantization format (default affine)")
    p.add_argument("--recipe", choices=RECIPES, help="mlx-lm's mixed-bit recipe (affine only)")
    p.add_argument("--name", help="name of the published model (default: <source>-q<bits>)")
    p.add_argument("--checkpoint", help="for a run: best (default), latest or an iteration number")
    p.add_argument("--data", help="prepared data folder or test JSONL to measure perplexity on "
                                  "(default: the run's data)")
    p.add_argument("--limit", type=int, help="measure on the first N rows of the test split only (faster)")
    p.add_argument("--dequantize", action="store_true", help="de-quantize an already-quantized model first")
    p.set_defaults(handler=run)


def run(args) -> int:
    from forgellm_tui.core.export import quant_settings, quantize, summary
    from forgellm_tui.core.runtime import shutdown_mlx

    settings = settings_from(args)
    qs = quant_settings(args.bits, args.group_size, args.mode, args.recipe)
    try:
        result = quantize(args.source, settings, qs, name=args.name, checkpoint=args.checkpoint, data=args.data,
                          limit=args.limit, dequantize=args.dequantize,
                          progress=lambda f, m: print(f"  [{100 * f:5.1f}%] {m}", flush=True))
    finally:
        shutdown_mlx()
    print(f"quantized {result.name}: {summary(result.section)} -> {result.path}")
    return 0
