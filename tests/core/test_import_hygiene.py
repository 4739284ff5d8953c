"""Nothing under forgellm_tui/core imports Textual (each module imported in a fresh interpreter)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import forgellm_tui.core as core

CORE_MODULES = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "forgellm_tui.core."))


def test_core_modules_found():
    assert "forgellm_tui.core.training.loop" in CORE_MODULES and len(CORE_MODULES) >= 50


def test_no_core_module_imports_textual():
    # One module per interpreter would be strictest; check each module in its own process.
    for name in CORE_MODULES:
        out = subprocess.run(
            [sys.executable, "-c", f"import importlib, sys; importlib.import_module({name!r}); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')))"],
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, f"{name} failed to import: {out.stderr[-500:]}"
        assert out.stdout.strip() == "[]", f"{name} imports Textual: {out.stdout.strip()[:200]}"


def test_app_module_imports_no_heavy_libraries():
    """The first frame must come fast: importing the app must not pull in mlx_lm or transformers."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys, forgellm_tui.tui.app; "
         "print(sorted(m for m in ('mlx_lm', 'transformers', 'mlx.core', 'tokenizers') if m in sys.modules))"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-800:]
    assert out.stdout.strip() == "[]", out.stdout


def test_other_screens_are_imported_when_first_shown():
    """Only the first screen's module loads with the app; the others (Markdown, plotext, publishing) on demand."""
    code = ("import sys, forgellm_tui.tui.app as a; "
            "loaded = lambda: sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('forgellm_tui.tui.screens.')); "
            "print(loaded()); from forgellm_tui.tui.screens import ChatScreen; print(loaded())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    before, after = out.stdout.strip().splitlines()
    assert "chat" not in before and "checkpoints" not in before and "training" not in before
    assert "chat" in after
