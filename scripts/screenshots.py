"""Save an SVG of every screen of the app, run on the demo workspace, into ``screenshots/``.

    python scripts/screenshots.py                  # builds a demo workspace in a temp folder
    python scripts/screenshots.py --workspace DIR  # reuses (or completes) a demo workspace in DIR

The app runs headless (``run_test``) at 120×36; nothing is typed into the real terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forgellm_tui.core import runtime  # noqa: E402

SIZE = (120, 36)
SHOTS = (  # (file name, keys pressed before the shot)
    ("datasets.svg", ["down", "down", "down"]),
    ("prepare.svg", ["p"]),
    ("training.svg", ["escape", "2"]),
    ("chat.svg", ["3"]),
    ("checkpoints.svg", ["4"]),
    ("help.svg", ["1", "question_mark"]),
)


async def take(workspace: Path, out: Path) -> list[Path]:
    from forgellm_tui.settings import Settings
    from forgellm_tui.tui.app import ForgeApp

    app = ForgeApp(Settings.load(workspace))
    saved = []
    async with app.run_test(size=SIZE) as pilot:
        for name, keys in SHOTS:
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            for _ in range(3):  # workers, then the workers their results start
                await app.workers.wait_for_complete()
                await pilot.pause(0.2)
            app.clear_notifications()
            await pilot.pause(0.1)
            saved.append(Path(app.save_screenshot(name, path=str(out))))
    return saved


def main(argv: list[str] | None = None) -> int:
    runtime.maybe_reexec_with_blas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="demo workspace to use (built when missing)")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="output folder")
    args = parser.parse_args(argv)
    from forgellm_tui.core.demo import build_demo

    with tempfile.TemporaryDirectory(prefix="forgellm-shots-") as tmp:
        # a short, stable path: it shows in the status bar of every screenshot
        workspace = (args.workspace or Path(tmp) / "forgellm-demo").resolve()
        build_demo(workspace, progress=lambda line: print(f"  {line}"))
        if args.workspace is None:
            os.environ["HOME"] = tmp  # the status bar then shows ~/forgellm-demo, not a random temp path
        args.out.mkdir(parents=True, exist_ok=True)
        try:
            for path in asyncio.run(take(workspace, args.out)):
                print(f"wrote {path}")
        finally:
            runtime.shutdown_mlx()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
