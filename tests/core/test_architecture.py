"""The shape of the package: no import cycle, core free of the UI, packages that depend one way,
imports through each package's face, short functions.

The import graph is grimp's (the one import-linter uses): every ``import`` in a module counts,
including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "forgellm_tui"
MAX_FUNCTION_LINES = 80

#: (importer, module) pairs allowed to import a module inside another core package (see the test's docstring)
FACE_EXCEPTIONS = {("forgellm_tui.settings", "forgellm_tui.core.models.hf_cache")}

CONTRACTS = ["core-no-textual", "core-no-tui", "core-no-commands", "commands-no-tui", "core-layers"]


def strongly_connected(graph) -> list[set[str]]:
    """Groups of modules that import each other (directly or through others), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == module:
                        break
                if len(group) > 1:
                    groups.append(group)
    return sorted(groups, key=len, reverse=True)


def test_no_import_cycle():
    graph = grimp.build_graph("forgellm_tui", cache_dir=None)
    problems = []
    for group in strongly_connected(graph):
        first = sorted(group)[0]
        back = min((graph.find_shortest_chain(importer=other, imported=first) or () for other in group
                    if other != first and graph.direct_import_exists(importer=first, imported=other)),
                   key=len, default=())
        chain = " -> ".join((first, *back)) if back else "(see the modules)"
        problems.append(f"{len(group)} modules import each other: {', '.join(sorted(group))}\n    e.g. {chain}")
    assert not problems, "import cycles:\n" + "\n".join(problems)


def test_cycle_finder_reports_a_cycle():
    """The check above finds a cycle when there is one (a graph of three modules in a ring)."""
    graph = grimp.ImportGraph()
    for importer, imported in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=importer, imported=imported)
    assert strongly_connected(graph) == [{"p.a", "p.b", "p.c"}]


@pytest.mark.parametrize("contract", CONTRACTS)
def test_import_contract(contract):
    """The import-linter contracts of pyproject.toml ([tool.importlinter]), one at a time."""
    out = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--config", str(ROOT / "pyproject.toml"), "--contract", contract, "--no-cache"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "KEPT" in out.stdout


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "core" and (PACKAGE / "core" / parts[2]).is_dir() else None


def test_other_packages_import_core_packages_through_their_faces():
    """``from forgellm_tui.core.runs import RunFolder``, not ``...core.runs.folder``: a package's modules are
    its own business; what others use is re-exported by its ``__init__.py``. Submodules imported as a
    namespace (``from forgellm_tui.core.runs import checkpoints as ck``) go through the package too.
    ``forgellm_tui.settings`` is the one exception: the packages import it, so it reads the Hugging Face
    cache folder from ``core/models/hf_cache.py`` itself (through the package it would import itself)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            target = _core_package(node.module)
            if target is None or node.module.count(".") < 3:
                continue
            if _core_package(importer) != target and (importer, node.module) not in FACE_EXCEPTIONS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")
    assert not found, "import these through the package's __init__:\n" + "\n".join(found)


def test_faces_export_what_they_list():
    """Every name in a core package's ``__all__`` is importable from it."""
    import importlib

    for init in sorted((PACKAGE / "core").glob("*/__init__.py")):
        module = importlib.import_module(_module_name(init))
        missing = [name for name in getattr(module, "__all__", []) if not hasattr(module, name)]
        assert not missing, f"{init.relative_to(ROOT)} lists {missing} but does not define them"


def test_training_starts_in_one_module():
    """Every way a run starts (one process, one rank of several, a background run's folder) and the
    resume point are in ``training/prepare.py``; the engine calls them from there."""
    from forgellm_tui.core.training import engine, prepare

    for name in ("open_run", "open_distributed", "prepare_run", "resume_config", "resume_point", "record_resume"):
        assert getattr(prepare, name).__module__ == prepare.__name__, name
    assert engine.open_run is prepare.open_run and engine.open_distributed is prepare.open_distributed


def long_functions(limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``file:line name (N lines)`` for every function longer than ``limit`` lines, def line to last line."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_longer_than_80_lines():
    found = long_functions()
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(found)
