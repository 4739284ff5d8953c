"""``model.gguf`` (and an Ollama ``Modelfile``) beside a published model, written by mlx-lm's GGUF exporter.

mlx-lm writes GGUF for llama, mistral and mixtral models at their own precision (bfloat16 becomes
float16); it cannot write a quantized MLX model. The file is written under a temporary name and
renamed, so a failure leaves the published model as it was.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.errors import ForgeError, ModelError
from forgellm_tui.core.export.ollama import Modelfile, build_modelfile
from forgellm_tui.core.export.source import quantization_of, read_json

GGUF_ARCHITECTURES = ("llama", "mistral", "mixtral")
GGUF_FILE, MODELFILE = "model.gguf", "Modelfile"


@dataclass
class GgufResult:
    path: Path            # model.gguf
    modelfile: Path
    family: str | None
    size: int


def check_gguf_source(model_dir: Path) -> None:
    """ModelError (one line) when mlx-lm cannot write this model as GGUF."""
    config = read_json(Path(model_dir) / "config.json")
    kind = config.get("model_type")
    if kind not in GGUF_ARCHITECTURES:
        raise ModelError(f"GGUF export supports {', '.join(GGUF_ARCHITECTURES)} models; this one is "
                         f"'{kind or 'unknown'}'", path=model_dir, hint="publish it in the MLX format instead")
    if quantization_of(config) is not None:
        raise ModelError("GGUF export needs an unquantized model (mlx-lm writes GGUF at 16/32-bit only)",
                         path=model_dir, hint="export the model this one was quantized from")
    if not (Path(model_dir) / "tokenizer.json").is_file():
        raise ModelError("GGUF export needs the model's tokenizer.json", path=model_dir,
                         hint="copy tokenizer.json from the base model into the folder")


def write_gguf(model_dir: Path, out_file: Path) -> None:
    """The model's weights and tokenizer as GGUF, through ``mlx_lm.gguf.convert_to_gguf``."""
    from mlx.utils import tree_flatten
    from mlx_lm.gguf import convert_to_gguf
    from mlx_lm.utils import load

    model, _tokenizer, config = load(str(model_dir), return_config=True)
    weights = dict(tree_flatten(model.parameters()))
    with contextlib.redirect_stdout(io.StringIO()):  # mlx-lm prints its own progress lines
        convert_to_gguf(Path(model_dir), weights, config, str(out_file))


def export_gguf(model_dir: str | Path, *, system: str | None = None) -> GgufResult:
    """Add ``model.gguf`` and ``Modelfile`` to a published model and say so in its card and metadata."""
    from forgellm_tui.core.export.card import gguf_lines

    model_dir = Path(model_dir)
    check_gguf_source(model_dir)
    if (model_dir / GGUF_FILE).exists():
        raise ForgeError(f"{GGUF_FILE} already exists", path=model_dir / GGUF_FILE, hint="delete it first")
    modelfile = build_modelfile(model_dir, system)
    tmp = model_dir / f"{fsio.TMP_PREFIX}{GGUF_FILE}"
    try:
        write_gguf(model_dir, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, model_dir / GGUF_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsio.atomic_write_text(model_dir / MODELFILE, modelfile.text)
    _update_card(model_dir, modelfile, gguf_lines)
    return GgufResult(model_dir / GGUF_FILE, model_dir / MODELFILE, modelfile.family,
                      (model_dir / GGUF_FILE).stat().st_size)


def _update_card(model_dir: Path, modelfile: Modelfile, lines_for) -> None:
    meta = read_json(model_dir / "metadata.json")
    size = (model_dir / GGUF_FILE).stat().st_size
    meta["gguf"] = {"file": GGUF_FILE, "size_bytes": size, "modelfile": MODELFILE,
                    "template_family": modelfile.family, "stop": modelfile.stops}
    fsio.atomic_write_json(model_dir / "metadata.json", meta)
    readme = model_dir / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else f"# {model_dir.name}\n"
    fsio.atomic_write_text(readme, text.rstrip("\n") + "\n" + "\n".join(lines_for(model_dir.name, size, modelfile))
                           + "\n")


def publish_gguf(run_dir: str | Path, published_dir: str | Path, *, checkpoint: str | int = "best",
                 name: str | None = None, dequantize: bool = False, settings=None, system: str | None = None,
                 progress=None):
    """``publish`` a checkpoint, then add ``model.gguf`` and ``Modelfile``; nothing is left if either fails.

    The base model is checked first, so an architecture mlx-lm cannot write is refused before fusing.
    """
    import shutil

    from forgellm_tui.core.publish import publish
    from forgellm_tui.core.runs import resolve_base_model

    tell = progress or (lambda _m: None)
    try:
        check_gguf_source(resolve_base_model(Path(run_dir), None, settings))
    except ModelError as exc:
        if not (dequantize and "unquantized" in exc.message):  # --dequantize fuses into an unquantized model
            raise
    result = publish(run_dir, published_dir, checkpoint=checkpoint, name=name, dequantize=dequantize,
                     settings=settings, progress=tell)
    tell("writing model.gguf and the Ollama Modelfile")
    try:
        export_gguf(result.path, system=system)
    except BaseException:
        shutil.rmtree(result.path, ignore_errors=True)
        raise
    return result
