"""A small renderer for the Go text/template subset that the Ollama Modelfiles we write use.

Supported: text, ``{{ .System }}`` / ``{{ .Role }}`` / ``{{ .Content }}``, ``{{ currentDate }}``,
``{{ if X }} … {{ else if X }} … {{ else }} … {{ end }}`` with X one of ``.Field``, ``eq .Field "s"`` or
``ne .Field "s"``, ``{{ range .Messages }} … {{ end }}``, and the ``{{-`` / ``-}}`` whitespace trims.
Anything else raises, so a template outside the subset cannot pass a test by accident.
"""

from __future__ import annotations

import re

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)
COND = re.compile(r'^(?:(eq|ne)\s+)?\.(\w+)(?:\s+"([^"]*)")?$')


def _tokens(template: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in ACTION.finditer(template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        if out and out[-1][0] == "trim-next":
            out.pop()
            text = text.lstrip()
        out.append(("text", text))
        out.append(("action", m.group(2)))
        if m.group(3):
            out.append(("trim-next", ""))
        pos = m.end()
    text = template[pos:]
    if out and out[-1][0] == "trim-next":
        out.pop()
        text = text.lstrip()
    out.append(("text", text))
    return out


def _parse(tokens: list[tuple[str, str]], i: int, stop: tuple[str, ...]) -> tuple[list, int, str]:
    """Nodes up to one of ``stop`` (returned with it)."""
    nodes: list = []
    while i < len(tokens):
        kind, value = tokens[i]
        i += 1
        if kind == "text":
            nodes.append(("text", value))
            continue
        word = value.split()[0] if value else ""
        if value in stop or (word == "else" and "else" in stop):
            return nodes, i, value
        if word == "if":
            branches, i = _parse_if(tokens, i, value[3:].strip())
            nodes.append(("if", branches))
        elif value == "range .Messages":
            body, i, _ = _parse(tokens, i, ("end",))
            nodes.append(("range", body))
        elif value.startswith(".") or value == "currentDate":
            nodes.append(("value", value))
        else:
            raise ValueError(f"unsupported action {{{{ {value} }}}}")
    if stop:
        raise ValueError(f"missing {stop}")
    return nodes, i, ""


def _parse_if(tokens, i, cond):
    branches = []
    while True:
        body, i, ended = _parse(tokens, i, ("end", "else"))
        branches.append((cond, body))
        if ended == "end":
            return branches, i
        cond = ended[len("else"):].strip()
        cond = cond[3:].strip() if cond.startswith("if ") else None


def _test(cond: str | None, scope: dict) -> bool:
    if cond is None:
        return True
    m = COND.match(cond)
    if not m:
        raise ValueError(f"unsupported condition {cond!r}")
    op, field, literal = m.groups()
    value = scope.get(field, "")
    if op == "eq":
        return value == literal
    if op == "ne":
        return value != literal
    return bool(value)


def _run(nodes: list, scope: dict, root: dict) -> str:
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "value":
            out.append(root["currentDate"] if node[1] == "currentDate" else str(scope.get(node[1][1:], "")))
        elif node[0] == "if":
            for cond, body in node[1]:
                if _test(cond, scope):
                    out.append(_run(body, scope, root))
                    break
        elif node[0] == "range":
            for message in root["Messages"]:
                out.append(_run(node[1], {"Role": message["role"], "Content": message["content"]}, root))
    return "".join(out)


def render(template: str, messages: list[dict], system: str = "", current_date: str = "") -> str:
    """``template`` executed as Ollama does for a chat: ``.System`` and ``.Messages`` (system ones included)."""
    nodes, _, _ = _parse(_tokens(template), 0, ())
    root = {"System": system, "Messages": messages, "currentDate": current_date}
    return _run(nodes, root, root)
