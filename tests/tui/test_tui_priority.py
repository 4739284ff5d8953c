"""While a run trains in the app, its threads yield the CPU to the UI thread (Linux, per-thread niceness)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = r"""
import os, threading
from forgellm_tui.tui.priority import TRAINING_NICENESS, lower_other_threads, thread_niceness

ready, release, seen = threading.Event(), threading.Event(), {}

def training():
    ready.set()
    release.wait()
    child = threading.Thread(target=lambda: seen.update(child=thread_niceness(threading.get_native_id())))
    child.start(); child.join()  # a thread started later by a lowered thread (MLX, BLAS) inherits it

worker = threading.Thread(target=training)
worker.start(); ready.wait()
changed = lower_other_threads()
release.set(); worker.join()
print(changed, thread_niceness(threading.main_thread().native_id), seen["child"], TRAINING_NICENESS)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux only")
def test_other_threads_run_at_lower_priority_than_the_ui_thread():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    changed, main, child, niceness = map(int, out.stdout.split())
    assert changed >= 1 and main == 0 and child == niceness > 0
