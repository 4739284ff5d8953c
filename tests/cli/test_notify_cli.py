"""Headless ``train`` rings its terminal when the run ends: the bytes read back from a real pty."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest
import yaml

from forgellm_tui.core.notify import tmux_wrap

from train_helpers import small_cpt

GOOD = {"model": "models/base/forge-tiny", "max_iterations": 2, "batch_size": 2, "max_seq_length": 128,
        "steps_per_eval": 2, "val_batches": 1, "save_every": 2, "learning_rate": 1e-3}
BEL, ESC = b"\x07", b"\x1b"
PTY_DEADLINE_S = 240


def _config(ws: Path) -> Path:
    path = ws / "configs" / "notify.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "data": small_cpt(ws)}))
    return path


def _train_on_pty(ws: Path, config: Path, name: str = "rung", **env) -> tuple[int, bytes]:
    """Run ``forgellm-tui train`` as the program on a new pty; its exit status and all it wrote."""
    full = {k: v for k, v in os.environ.items() if k not in ("TMUX", "VTE_VERSION", "FORGELLM_NOTIFY")}
    full.update(TERM="xterm-256color", PYTHONPATH=os.pathsep.join(sys.path), **env)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its terminal (stdin, stdout, stderr)
        os.execvpe(sys.executable, [sys.executable, "-m", "forgellm_tui", "--workspace", str(ws), "train",
                                    str(config), "--name", name], full)
    out, deadline = bytearray(), time.monotonic() + PTY_DEADLINE_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal (it exited)
            break
        if not chunk:
            break
        out += chunk
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(out)


@pytest.mark.parametrize("tmux", [False, True], ids=["plain", "tmux"])
def test_finished_run_writes_bell_and_osc9_to_its_terminal(workspace, tmux):
    env = {"FORGELLM_NOTIFY": "osc"}
    if tmux:
        env["TMUX"] = "/tmp/tmux-1000/default,1234,0"
    rc, out = _train_on_pty(workspace, _config(workspace), **env)
    assert rc == 0, out.decode(errors="replace")[-2000:]
    osc = b"\x1b]9;ForgeLLM: run finished: rung: finished at iteration 2\x07"
    if tmux:  # wrapped for tmux passthrough: ESC doubled inside ESC P tmux; ... ESC \
        wrapped = tmux_wrap(osc.decode()).encode()
        assert wrapped == b"\x1bPtmux;\x1b\x1b]9;ForgeLLM: run finished: rung: finished at iteration 2\x07\x1b\\"
        assert BEL + wrapped in out
        assert b"\n" + osc not in out and not out.replace(wrapped, b"").count(b"]9;")
    else:
        assert BEL + osc in out
        assert b"tmux;" not in out
    assert out.count(b"]9;") == 1  # one notice for the one run


def test_bell_mode_rings_without_escape_and_off_is_silent(workspace):
    config = _config(workspace)
    rc, out = _train_on_pty(workspace, config, FORGELLM_NOTIFY="bell")
    assert rc == 0 and out.count(BEL) == 1 and b"]9;" not in out and b"]777;" not in out
    rc, out = _train_on_pty(workspace, config, "silent", FORGELLM_NOTIFY="off")
    assert rc == 0 and BEL not in out and b"]9;" not in out


def test_vte_terminal_gets_osc777(workspace):
    rc, out = _train_on_pty(workspace, _config(workspace), FORGELLM_NOTIFY="osc", VTE_VERSION="7600")
    assert rc == 0
    assert b"\x07\x1b]777;notify;ForgeLLM: run finished;rung: finished at iteration 2\x07" in out
    assert b"]9;" not in out
