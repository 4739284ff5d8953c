"""``forgellm-tui export NAME --format gguf``: add ``model.gguf`` and an Ollama ``Modelfile`` to a published model.

Exit status: 0 written, 2 bad input (unknown model, an architecture mlx-lm cannot write as GGUF, a
quantized model, a GGUF already there: one line on stderr, the model left as it was).
"""

from __future__ import annotations

from pathlib import Path

from . import settings_from


def register(sub) -> None:
    p = sub.add_parser("export", help="export a published model as GGUF with an Ollama Modelfile")
    p.add_argument("name", help="a published model (its name under published/, or its folder)")
    p.add_argument("--format", required=True, choices=("gguf",), help="the export format (gguf)")
    p.add_argument("--system", help="a SYSTEM prompt for the Ollama Modelfile")
    p.set_defaults(handler=run)


def published_folder(name: str, settings) -> Path:
    from forgellm_tui.core.errors import ModelError

    path = Path(name).expanduser()
    for candidate in (path, settings.published_dir / name):
        if (candidate / "config.json").is_file():
            return candidate
    raise ModelError("no published model with this name", path=settings.published_dir / name,
                     hint="see `forgellm-tui runs` or the Checkpoints screen's published tab for the names")


def run(args) -> int:
    from forgellm_tui.core.export import export_gguf
    from forgellm_tui.core.runtime import shutdown_mlx

    folder = published_folder(args.name, settings_from(args))
    try:
        result = export_gguf(folder, system=args.system)
    finally:
        shutdown_mlx()
    family = result.family or "plain (see the card)"
    print(f"exported {result.path} ({result.size / 1e6:.2f} MB) and {result.modelfile.name} (template: {family})")
    return 0
