"""The token benchmarks start and show their usage (they import the package's runtime module at start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forgellm_tui.core.runtime import backend as runtime

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", ["bench_tokens.py", "bench_tokenizer.py"])
def test_token_benchmark_shows_its_usage(script):
    env = dict(os.environ, **{runtime.NO_PRELOAD_VAR: "1"})  # no re-exec with OpenBLAS: nothing is measured
    out = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    assert out.stdout.startswith("usage:") and "--rounds" in out.stdout
