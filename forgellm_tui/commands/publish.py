"""``forgellm-tui publish RUN_DIR``: fuse one checkpoint into a standalone model in published/.

Exit status: 0 published, 2 bad input (unknown run or checkpoint, base model gone, name taken, disk
full: one line on stderr, nothing left in published/), 130 interrupted (nothing left either).
"""

from __future__ import annotations

from pathlib import Path

from . import settings_from


def register(sub) -> None:
    p = sub.add_parser("publish", help="fuse a run's checkpoint into a standalone model (published/NAME)")
    p.add_argument("run_dir", help="the run folder (models/<cpt|ift|dpo|orpo>/<run>)")
    p.add_argument("--checkpoint", default="best",
                   help="best (default: the lowest validation loss, best/), recommended (rank 1 on the "
                        "Checkpoints screen), latest, or an iteration number")
    p.add_argument("--name", help="name of the published model (default: <run>-it<iteration>)")
    p.add_argument("--dequantize", action="store_true",
                   help="de-quantize a quantized base while fusing (keeps the adapter's full effect)")
    p.add_argument("--format", default="mlx", choices=("mlx", "gguf"),
                   help="mlx (default), or gguf: also model.gguf and an Ollama Modelfile (llama, mistral, mixtral)")
    p.add_argument("--system", help="with --format gguf: a SYSTEM prompt for the Ollama Modelfile")
    p.set_defaults(handler=run)


def run(args) -> int:
    from forgellm_tui.core.publish import publish
    from forgellm_tui.core.runtime import shutdown_mlx

    from forgellm_tui.core.runs import settings_near

    settings = settings_from(args)
    run_dir = Path(args.run_dir).expanduser()
    if not run_dir.is_absolute() and not run_dir.exists():
        run_dir = settings.workspace / run_dir
    if not args.workspace:  # the run's own workspace: its base model and published/ live there
        settings = settings_near(run_dir)
    gguf = args.format == "gguf"
    try:
        if gguf:
            from forgellm_tui.core.export import publish_gguf

            result = publish_gguf(run_dir, settings.published_dir, checkpoint=args.checkpoint, name=args.name,
                                  dequantize=args.dequantize, settings=settings, system=args.system,
                                  progress=lambda m: print(f"  {m}", flush=True))
        else:
            result = publish(run_dir, settings.published_dir, checkpoint=args.checkpoint, name=args.name,
                             dequantize=args.dequantize, settings=settings,
                             progress=lambda m: print(f"  {m}", flush=True))
    finally:
        shutdown_mlx()
    print(f"published {result.name}: checkpoint {result.checkpoint_label} (iteration {result.checkpoint_iteration}) "
          f"-> {result.path}" + (" (with model.gguf and Modelfile)" if gguf else ""))
    return 0
