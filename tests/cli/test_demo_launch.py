"""``forgellm-tui demo``, the README's main command, as a user runs it: it builds the workspace and then
opens the app on it, in a real terminal, and ``q`` leaves it."""

from __future__ import annotations

import shutil

import pytest

from terminal_helpers import Terminal

pytestmark = pytest.mark.usefixtures("mlx_exit")


def test_demo_builds_the_workspace_then_opens_the_app_on_it(demo_dir, tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder, symlinks=True)  # the build is fast on an existing workspace
    term = Terminal(["demo", str(folder)])
    term.wait_for(b"demo workspace ready", 300)
    term.wait_for(b"Datasets", 60)  # the app's first frame: its tab bar
    term.wait_for(b"Quit", 30)      # and its footer
    term.press(b"q")
    code = term.wait_exit(60)
    text = term.output.decode("utf-8", "replace")
    assert "Traceback" not in text, text[-3000:]
    assert code == 0
