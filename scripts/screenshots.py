"""Save an SVG of every screen of the app, run on the demo workspace, into ``screenshots/``.

    python scripts/screenshots.py                  # builds a demo workspace in a temp folder
    python scripts/screenshots.py --workspace DIR  # reuses (or completes) a demo workspace in DIR

The app runs headless (``run_test``) at 80×24 by default, the smallest terminal it is built for
(``--size 120x36`` for a roomier set); nothing is typed into the real terminal.
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

from forgellm_tui.core.runtime import backend as runtime  # noqa: E402

SIZE = (80, 24)
CHAT_SYSTEM = "You answer questions about the Python standard library in one short paragraph."
CHAT_TURNS = ("What does os.path.join do?", "And how is pathlib different?")
ARENA_PROMPT = "What does the json module do?"


async def chat_conversation(app, pilot) -> None:
    """Chat screen: the demo run's best checkpoint, settings open (greedy, seed 0), a short two-turn chat."""
    async def settle() -> None:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)

    await app.switch_mode("chat")
    await settle()
    await pilot.press("ctrl+o", *"short best", "enter")
    await settle()
    screen = app.screen
    await pilot.press("ctrl+t")  # the settings panel stays open in the shot
    for name, value in (("temperature", "0.8"), ("seed", "0"), ("max_tokens", "48"), ("repetition_penalty", "1.1")):
        screen.query_one(f"#set-{name}").value = value
    screen.query_one("#system-prompt").load_text(CHAT_SYSTEM)
    screen.query_one("#prompt").focus()
    for turn in CHAT_TURNS:
        screen.query_one("#prompt").load_text(turn)
        await pilot.press("end", "enter")
        await settle()


async def arena_round(app, pilot) -> None:
    """Arena (ctrl+g on the Chat screen, with its settings): the base model against the run's best
    checkpoint on one prompt, both replies in, waiting for the vote."""
    async def settle() -> None:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)

    await pilot.press("ctrl+g")
    await settle()
    for key, query in (("ctrl+l", "forge-tiny"), ("ctrl+r", "short best")):
        await pilot.press(key, *query, "enter")
        await settle()
    await pilot.press(*ARENA_PROMPT, "enter")
    await settle()


async def shoot_live_run(app, pilot, config: str, run_name: str, at_iteration: int, shot: str) -> None:
    """The Training screen mid-run: ``config`` started with ctrl+r as ``run_name``, shot once the run has
    passed ``at_iteration`` (after a few validations), then stopped."""
    await app.switch_mode("training")
    screen = app.screen
    screen.action_focus_configs()  # the setup view, with the list of configs focused (a run leaves the run view)
    await pilot.pause(0.3)
    while (draft := screen.setup.draft) is None or draft.path is None or draft.path.name != config:
        await pilot.press("down" if screen.setup.draft is not None else "r")
        await pilot.pause(0.3)
    import shutil

    for runs in app.settings.run_roots:  # ours, from an earlier run
        shutil.rmtree(runs / run_name, ignore_errors=True)
    screen.form.set_text("name", run_name)
    await pilot.press("ctrl+r")
    while screen.view is None or screen.view.iteration < at_iteration:
        if screen.view is not None and screen.view.state == "failed":
            raise SystemExit(f"the {config} run failed: {screen.view.error}")
        await asyncio.sleep(0.5)
    screen.charts.draw()
    await pilot.pause(0.6)
    app.clear_notifications()
    await pilot.pause(0.1)
    print(f"wrote {app.save_screenshot(shot, path=str(OUT[0]))}")
    screen.controller.control.stop("screenshot taken")
    while not screen.controller.run_done.is_set():
        await asyncio.sleep(0.2)


async def training_mid_run(app, pilot) -> None:
    """The demo CPT config mid-run. Last but one, so its run is in no other screenshot."""
    await shoot_live_run(app, pilot, "cpt-demo.yaml", "cpt-demo-live", 90, "training.svg")


async def dpo_mid_run(app, pilot) -> None:
    """The demo DPO config mid-run: reward accuracy and margin in place of learning rate and tokens/s."""
    await shoot_live_run(app, pilot, "dpo-demo.yaml", "dpo-demo-live", 45, "training-dpo.svg")


OUT: list[Path] = []
SHOTS = (  # (file name, keys pressed before the shot; "mode:NAME" switches mode; a callable runs a step)
    ("datasets.svg", ["down", "down", "down"]),
    ("prepare.svg", ["p"]),
    (None, ["escape"]),  # training.svg: see training_mid_run
    ("chat.svg", [chat_conversation]),
    ("arena.svg", [arena_round]),
    (None, ["escape"]),  # back to the chat (the vote is left to you)
    ("checkpoints.svg", ["mode:checkpoints"]),  # the chat prompt may hold the focus: "4" would type there
    ("publish.svg", ["p", "tab", "enter", "down", "enter"]),  # the publish dialog: format "MLX quantized"
    (None, ["escape"]),
    ("help.svg", ["mode:datasets", "question_mark"]),
    (None, ["escape", training_mid_run, dpo_mid_run]),
)
DEMO_RUN = {"name": "cpt-demo-short", "max_iterations": 40, "batch_size": 4, "steps_per_report": 2,
            "steps_per_eval": 10, "val_batches": 4, "save_every": 10, "warmup_steps": 4, "early_stopping": False}
"""A short real run of the demo config, so the Training and Checkpoints screens show real content."""


def add_demo_run(workspace: Path) -> None:
    """Train ``DEMO_RUN`` (a few seconds) and publish its best checkpoint, unless already there."""
    from forgellm_tui.core.config.model import load_config
    from forgellm_tui.core.publish.fuse import publish
    from forgellm_tui.core.training.engine import train
    from forgellm_tui.settings import Settings

    settings = Settings.load(workspace)
    run = settings.cpt_dir / DEMO_RUN["name"]
    if not run.exists():
        result = train(load_config(workspace / "configs" / "cpt-demo.yaml", dict(DEMO_RUN), settings))
        print(f"  trained {result.run_dir.name}: {result.status}, best validation {result.best_validation_loss:.3f}")
    if not any(settings.published_dir.glob(f"{run.name}-it*")):
        done = publish(run, settings.published_dir, settings=settings)
        print(f"  published {done.name}")


async def take(workspace: Path, out: Path, size: tuple[int, int] = SIZE) -> list[Path]:
    from forgellm_tui.settings import Settings
    from forgellm_tui.tui.app import ForgeApp

    app = ForgeApp(Settings.load(workspace))
    OUT[:] = [out]
    saved = []
    async with app.run_test(size=size) as pilot:
        for name, keys in SHOTS:
            for key in keys:
                if callable(key):
                    await key(app, pilot)
                elif key.startswith("mode:"):
                    await app.switch_mode(key.removeprefix("mode:"))
                else:
                    await pilot.press(key)
                await pilot.pause()
            if name is None:  # a step without a shot of its own here
                continue
            for _ in range(3):  # workers, then the workers their results start
                await app.workers.wait_for_complete()
                await pilot.pause(0.2)
            app.clear_notifications()
            await pilot.pause(0.1)
            saved.append(Path(app.save_screenshot(name, path=str(out))))
    return saved


def _size(text: str) -> tuple[int, int]:
    cols, _, rows = text.lower().partition("x")
    if not (cols.isdigit() and rows.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: give the size as COLSxROWS, e.g. 80x24")
    return int(cols), int(rows)


def main(argv: list[str] | None = None) -> int:
    runtime.maybe_reexec_with_blas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="demo workspace to use (built when missing)")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="output folder")
    parser.add_argument("--size", type=_size, default=SIZE, help="terminal size as COLSxROWS (default 80x24)")
    args = parser.parse_args(argv)
    from forgellm_tui.core.demo.builder import build_demo

    with tempfile.TemporaryDirectory(prefix="forgellm-shots-") as tmp:
        # a short, stable path: it shows in the status bar of every screenshot
        workspace = (args.workspace or Path(tmp) / "forgellm-demo").resolve()
        build_demo(workspace, progress=lambda line: print(f"  {line}"))
        add_demo_run(workspace)
        if args.workspace is None:
            os.environ["HOME"] = tmp  # the status bar then shows ~/forgellm-demo, not a random temp path
        args.out.mkdir(parents=True, exist_ok=True)
        try:
            for path in asyncio.run(take(workspace, args.out, args.size)):
                print(f"wrote {path}")
        finally:
            runtime.shutdown_mlx()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
