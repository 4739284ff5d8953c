"""Running ``forgellm-tui`` in the test process, and reading its one-line errors."""

from __future__ import annotations

from forgellm_tui.cli import main


def run(ws, *argv):
    """``forgellm-tui --workspace WS ARGV...``; its exit status."""
    return main(["--workspace", str(ws), *argv])


def one_line_error(err: str) -> str:
    """The single ``error: ...`` line a refused command prints (and no traceback)."""
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]
