"""The TUI is a thin layer: processes are started and signalled by core, and tui/ holds no dead code."""

from __future__ import annotations

import ast
from pathlib import Path

import forgellm_tui

ROOT = Path(forgellm_tui.__file__).parent


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_tui_module_starts_or_signals_processes():
    """Starting a background run (core/training/background.py) and stopping one by pid (core/runs/detach.py)
    live in core, not in the screens."""
    offenders = []
    for path in sorted((ROOT / "tui").rglob("*.py")):
        for node in ast.walk(_tree(path)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "subprocess" for name in names):
                offenders.append(f"{path.relative_to(ROOT)}: imports subprocess")
            if isinstance(node, ast.Attribute) and node.attr in ("kill", "killpg") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: os.{node.attr}")
    assert offenders == []


def test_every_definition_in_tui_listing_is_used():
    """Each function, class and constant of tui/listing.py is imported elsewhere or used by listing.py itself."""
    listing = ROOT / "tui" / "listing.py"
    tree = _tree(listing)
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for path in [*ROOT.rglob("*.py"), *(ROOT.parent / d for d in ("tests", "scripts", "bench"))]:
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(_tree(file)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("listing"):
                    used |= {alias.name for alias in node.names}
    assert defined and sorted(defined - used) == []
