"""An Ollama ``Modelfile`` for a GGUF: ``FROM``, a Go ``TEMPLATE`` translated from the model's chat template,
``PARAMETER stop`` for the end-of-turn tokens, ``SYSTEM`` when one is given.

Ollama fills ``.System`` with the system text and ``.Messages`` with every message (system ones included,
so the templates skip them in the loop). Its runner adds the BOS token itself, so no template writes it.
The families are told apart by their turn markers; anything else gets a plain template and a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CHATML = """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}{{ end }}<|im_start|>assistant
"""

LLAMA3_TURNS = """
{{- range .Messages }}{{ if ne .Role "system" }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>{{ end }}{{ end }}<|start_header_id|>assistant<|end_header_id|>

"""
# Llama 3.1/3.2 always open with a system header holding a knowledge-cutoff and date preamble.
LLAMA3_DATED = """<|start_header_id|>system<|end_header_id|>

Cutting Knowledge Date: December 2023
Today Date: {{ currentDate }}

{{ if .System }}{{ .System }}{{ end }}<|eot_id|>""" + LLAMA3_TURNS
LLAMA3 = """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>{{ end }}""" + LLAMA3_TURNS

# Mistral puts the system text in front of the last user turn (found with Ollama's len/slice functions).
# Gemma has no system role: its system text becomes a user turn of its own, as Ollama's Gemma templates do.
MISTRAL = """{{- range $index, $_ := .Messages }}
{{- if eq .Role "user" }}
{{- if and (eq (len (slice $.Messages $index)) 1) $.System }}[INST] {{ $.System }}

{{ .Content }}[/INST]
{{- else }}[INST] {{ .Content }}[/INST]
{{- end }}
{{- else if eq .Role "assistant" }} {{ .Content }}</s>
{{- end }}
{{- end }}"""

GEMMA = """{{- range .Messages }}{{ if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ else }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ end }}{{ end }}<start_of_turn>model
"""

PLAIN = """{{ if .System }}{{ .System }}

{{ end }}{{ if .Prompt }}{{ .Prompt }}{{ end }}"""

FAMILIES = {  # family: (marker in the chat template, stop strings)
    "chatml": ("<|im_start|>", ("<|im_end|>", "<|im_start|>")),
    "llama-3": ("<|start_header_id|>", ("<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>")),
    "mistral": ("[INST]", ("[INST]", "[/INST]", "</s>")),
    "gemma": ("<start_of_turn>", ("<end_of_turn>", "<start_of_turn>")),
}


@dataclass
class Modelfile:
    text: str
    family: str | None            # None: no known chat template family (plain template)
    stops: list[str] = field(default_factory=list)
    note: str | None = None       # for the card when the template could not be translated


def family_of(template: str | None) -> str | None:
    if not template:
        return None
    for family, (marker, _) in FAMILIES.items():
        if marker in template:
            return family
    return None


def _go_template(family: str | None, chat_template: str) -> str:
    if family == "chatml":
        return CHATML
    if family == "llama-3":
        return LLAMA3_DATED if "Cutting Knowledge Date" in chat_template else LLAMA3
    return {"mistral": MISTRAL, "gemma": GEMMA}.get(family, PLAIN)


def default_system(chat_template: str) -> str | None:
    """The system text a ChatML template injects when the conversation has none (Qwen does)."""
    found = re.search(r"<\|im_start\|>system\\n([^'\"{}<]+?)<\|im_end\|>", chat_template)
    return found.group(1) if found else None


def _quote(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def build_modelfile(model_dir: Path, system: str | None = None, gguf_name: str = "model.gguf") -> Modelfile:
    """The Modelfile for ``model_dir``'s chat template and special tokens (see module doc)."""
    from forgellm_tui.core.models import files

    chat_template = files.read_chat_template(Path(model_dir)) or ""
    family = family_of(chat_template)
    stops = list(FAMILIES[family][1]) if family else []
    eos = files.special_tokens(Path(model_dir)).get("eos_token")
    if eos and eos not in stops:
        stops.append(eos)
    system = system if system is not None else (default_system(chat_template) if family == "chatml" else None)
    lines = [f"FROM ./{gguf_name}", "", f"TEMPLATE {_quote(_go_template(family, chat_template))}", ""]
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    if system:
        lines += ["", f"SYSTEM {_quote(system)}"]
    note = None
    if family is None:
        note = ("The model's chat template is not one of the ChatML, Llama-3, Mistral or Gemma families"
                + ("" if chat_template else " (it has none)")
                + ", so the Modelfile uses a plain template (system text, then the prompt); "
                  "edit TEMPLATE if the model expects turn markers.")
    return Modelfile("\n".join(lines) + "\n", family, stops, note)
