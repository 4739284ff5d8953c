"""Shared fixtures: a demo workspace built once per test session (real tokenizer, real tiny model)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from forgellm_tui.core.runtime import blas_cores
from forgellm_tui.core.runtime import backend as runtime

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config):
    """Use OpenBLAS on Linux like the app does: re-execute pytest once with it preloaded.

    The kernel-set verdict of that re-exec is cached under ``.pytest_cache``, not the user's cache
    folder; tests of the verdict itself point ``FORGELLM_CACHE_DIR`` at their own ``tmp_path``.
    """
    cache = getattr(config, "cache", None)
    if cache is not None and blas_cores.CACHE_VAR not in os.environ:
        os.environ[blas_cores.CACHE_VAR] = str(cache.mkdir("forgellm-cache"))
    if runtime.blas_preload_env(kernels=False) is None:
        return
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()  # give the new process the real stdout/stderr
    runtime.maybe_reexec_with_blas()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A complete demo workspace (corpus, tokenizer, model, configs, prepared data). Do not modify."""
    from forgellm_tui.core.demo.builder import build_demo

    folder = tmp_path_factory.mktemp("demo") / "ws"
    build_demo(folder)
    return folder


@pytest.fixture
def workspace(demo_dir, tmp_path) -> Path:
    """A private copy of the demo workspace that a test may change."""
    target = tmp_path / "ws"
    shutil.copytree(demo_dir, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def demo_model(demo_dir) -> Path:
    return demo_dir / "models" / "base" / "forge-tiny"


SMALL_FILES_PER_CATEGORY = 4
SMALL_IFT_LINES = 120


@pytest.fixture
def small_workspace(demo_dir, tmp_path) -> Path:
    """The demo workspace with a few files per category: the same shape, scanned in a fraction of the time.

    The demo model is linked, not copied (the app only reads it).
    """
    ws = tmp_path / "small"
    for sub in ("data", "configs", "published", "models/base"):
        (ws / sub).mkdir(parents=True)
    (ws / "models/base/forge-tiny").symlink_to(demo_dir / "models/base/forge-tiny", target_is_directory=True)
    for config in (demo_dir / "configs").glob("*.yaml"):
        (ws / "configs" / config.name).write_bytes(config.read_bytes())
    for category in sorted(p for p in (demo_dir / "dataset").iterdir() if p.is_dir()):
        (ws / "dataset" / category.name).mkdir(parents=True)
        for src in sorted(category.iterdir())[:SMALL_FILES_PER_CATEGORY]:
            data = src.read_bytes()
            if src.suffix == ".jsonl":
                data = b"\n".join(data.splitlines()[:SMALL_IFT_LINES]) + b"\n"
            (ws / "dataset" / category.name / src.name).write_bytes(data)
    return ws


@pytest.fixture
def ws(tmp_path_factory, demo_dir, tmp_path) -> Path:
    """A private clone of the workspace with a real trained run (``publish_helpers``: ``models/cpt/demo-run``,
    checkpoints 4, 8 and 12 and ``best/``), trained once per session; a test may damage its copy freely."""
    from publish_helpers import clone, trained_workspace

    return clone(trained_workspace(tmp_path_factory, demo_dir), tmp_path / "ws")


@pytest.fixture
def mlx_exit():
    """Synchronise and free MLX after the test (``pytest.mark.usefixtures("mlx_exit")``).

    MLX crashes the process at exit when a thread that ran MLX work (a training worker, the chat's
    generation thread, the device probe) has not synchronised; this runs the collection and the
    synchronisation that the app runs before it exits.
    """
    yield
    from forgellm_tui.core.runtime import backend as runtime

    runtime.shutdown_mlx()


@pytest.fixture
def mount_tmpfs(tmp_path):
    """Mount a small tmpfs of the given size (``"2m"``) for disk-full tests; skipped where mounting is
    not allowed. Every mount is undone after the test."""
    import subprocess

    mounts: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"tmpfs-{len(mounts)}"
        folder.mkdir()
        if shutil.which("mount") is None or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot mount a small tmpfs here")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", str(folder)], capture_output=True)
