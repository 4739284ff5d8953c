"""Demo corpus: real English text from Python's standard-library documentation (pydoc).

Every machine that runs us has it, so the demo needs no download. Modules are rendered in worker
processes (importing a module can have side effects; they stay out of our process) and sorted into
top-level category folders. Question/answer pairs for instruction tuning come from the same docs.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor

#: Modules that open windows, print on import, need hardware, or are huge and repetitive.
SKIP = {
    "antigravity", "this", "tkinter", "turtle", "turtledemo", "idlelib", "lib2to3", "pydoc_data",
    "__future__", "__hello__", "__phello__", "_pydecimal", "test", "ensurepip", "venv", "msvcrt",
    "winreg", "winsound", "_winapi", "nt", "msilib", "_msi", "ctypes", "curses", "readline",
    "pydoc", "sre_compile", "sre_constants", "sre_parse", "xxsubtype", "xxlimited", "xxlimited_35",
    "_tkinter", "_curses", "_curses_panel", "dbm", "sqlite3", "multiprocessing", "concurrent",
    "asyncio", "encodings", "unittest", "distutils", "lib2to3", "tomllib", "zoneinfo", "wsgiref",
    "sys",  # its DATA section shows sys.argv / sys.modules of the rendering process
}

#: category folder -> name of the category, assigned from a stable hash of the module name.
CATEGORIES = ("core", "semantic", "episodic")
#: General-purpose modules kept apart in general/ for mixing (about a fifth of the corpus, so the
#: default 0.8 domain / 0.2 general mix can be met).
GENERAL = {"string", "textwrap", "difflib", "glob", "fnmatch", "shutil", "tempfile", "getopt",
           "calendar", "colorsys", "collections", "functools", "itertools", "datetime", "decimal",
           "fractions", "statistics", "random", "math", "operator", "pathlib", "re", "heapq", "bisect",
           "enum", "copy", "pprint", "argparse", "io", "os", "time", "json", "csv", "logging"}

_ADDR = re.compile(r" at 0x[0-9a-f]+")
#: Lines whose content depends on the process (warning registries, environment dumps).
_VOLATILE = re.compile(r"^.*(__warningregistry__|environ\(\{).*\n", re.M)
_FIXED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/home/user", "TERM": "xterm"}


def _worker_init() -> None:
    """Render with a fixed environment: some docs print ``os.environ`` (cgi) or depend on it."""
    os.environ.clear()
    os.environ.update(_FIXED_ENV)


def stdlib_modules() -> list[str]:
    names = getattr(sys, "stdlib_module_names", ())
    return sorted(n for n in names if not n.startswith("_") and n not in SKIP)


def category_of(module: str) -> str:
    if module in GENERAL:
        return "general"
    return CATEGORIES[zlib.crc32(module.encode()) % len(CATEGORIES)]


def _summary(doc: str | None) -> str | None:
    if not doc:
        return None
    first = doc.strip().split("\n\n", 1)[0]
    text = " ".join(first.split())
    if len(text) < 20 or len(text) > 400 or text.startswith(("Return self", "Create and return", "Implement ")):
        return None
    return text


def _qa_pairs(name: str, module: object) -> list[tuple[str, str]]:
    pairs = []
    mod_summary = _summary(inspect.getdoc(module))
    if mod_summary:
        pairs.append((f"What is the {name} module for?", mod_summary))
    public = getattr(module, "__all__", None) or [a for a in dir(module) if not a.startswith("_")]
    for attr in sorted(set(public))[:60]:
        obj = getattr(module, attr, None)
        if getattr(obj, "__module__", name) not in (name, None):
            continue
        if inspect.isclass(obj):
            question = f"What is {name}.{attr}?"
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            question = f"What does {name}.{attr} do?"
        else:
            continue
        answer = _summary(inspect.getdoc(obj))
        if answer:
            pairs.append((question, answer))
    return pairs


def render_module(name: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Return ``(name, plain-text documentation, question/answer pairs)``; empty text on failure."""
    import pydoc

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            module = __import__(name)
            for part in name.split(".")[1:]:
                module = getattr(module, part)
            text = pydoc.render_doc(module, renderer=pydoc.plaintext)
            pairs = _qa_pairs(name, module)
    except BaseException:  # noqa: BLE001 - a module that fails to import is just left out
        return name, "", []
    # Strip things that differ between runs or machines (object addresses, file paths).
    text = _ADDR.sub("", text)
    text = _VOLATILE.sub("", text)
    text = re.sub(r"^FILE\n.*?(?=\n[A-Z]|\Z)", "", text, flags=re.M | re.S)
    text = re.sub(r"^MODULE REFERENCE\n.*?(?=\n[A-Z]+\n|\Z)", "", text, flags=re.M | re.S)
    return name, text.strip() + "\n", pairs


GROUPS = 4  # fixed (not the CPU count): each group renders in order in one fresh process


def render_group(names: list[str]) -> list[tuple[str, str, list]]:
    return [render_module(n) for n in names]


def render_all(modules: list[str], workers: int | None = None) -> list[tuple[str, str, list]]:
    """Render modules in fresh worker processes; results are in ``modules`` order.

    A module's documentation can depend on what was imported before it in the same process, so
    the split into groups and the order inside each group are fixed: the output is deterministic.
    """
    import multiprocessing as mp

    workers = workers or max(1, min(GROUPS, os.cpu_count() or 1))
    groups = [modules[i::GROUPS] for i in range(GROUPS)]
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, max_tasks_per_child=1,
                             initializer=_worker_init) as pool:
        rendered = {name: (name, text, qa) for group in pool.map(render_group, groups)
                    for name, text, qa in group}
    return [rendered[name] for name in modules]
