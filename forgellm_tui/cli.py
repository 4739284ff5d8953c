"""``forgellm-tui``: the TUI (no sub-command) and the headless commands over the same core.

Each sub-command lives in ``forgellm_tui/commands/<name>.py`` with ``register(subparsers)`` and
``run(args) -> int``. User errors (``ForgeError``) print one line and exit 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__

#: sub-command modules, in the order shown by --help
COMMANDS = ("demo", "prepare", "stats", "train", "control", "eval", "runs", "publish", "quantize", "export", "doctor")


def _quiet_libraries() -> None:
    # transformers prints a "PyTorch was not found" advisory on import; we never need torch.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forgellm-tui",
        description="Continued pre-training and instruction fine-tuning with MLX, from the terminal. "
        "Without a command, opens the full-screen app on the workspace.",
    )
    parser.add_argument("--version", action="version", version=f"forgellm-tui {__version__}")
    parser.add_argument("--workspace", "-w", metavar="DIR", help="workspace folder (default: current folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"forgellm_tui.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from forgellm_tui.core.runtime import backend as runtime

    if argv is None:
        runtime.maybe_reexec_with_blas()
    _quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    # run as the program (argv from the command line): ``train`` may supervise a child process;
    # a call from Python (tests, scripts) trains in the calling process and returns its result
    args.program = argv is None
    from forgellm_tui.core.errors import ForgeError

    try:
        if args.command is None:
            from .tui.launch import run as run_tui

            return run_tui(args)
        code = int(args.handler(args) or 0)
        if code == 0 and getattr(args, "open_app", False):  # ``demo``: the workspace is built, now the app
            from .tui.launch import run as run_tui

            return run_tui(args)
        return code
    except ForgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
