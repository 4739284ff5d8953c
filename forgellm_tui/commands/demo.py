"""``forgellm-tui demo [DIR] [--no-launch]``: build the offline demo workspace, then open the app."""

from __future__ import annotations

import time


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the offline demo workspace (no download) and open the app on it")
    p.add_argument("folder", nargs="?", default="forgellm-demo", help="where to build it (default: ./forgellm-demo)")
    p.add_argument("--no-launch", action="store_true", help="only build; do not open the app")
    p.add_argument("--seed", type=int, default=0, help="random seed of the demo model (default 0)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from forgellm_tui.core.demo import build_demo

    start = time.perf_counter()
    result = build_demo(args.folder, seed=args.seed, progress=lambda line: print(f"  {line}", flush=True))
    print(f"demo workspace ready in {time.perf_counter() - start:.1f} s: {result.folder}")
    if args.no_launch:
        print(f"open it with: forgellm-tui --workspace {result.folder}")
        return 0
    args.workspace = str(result.folder)
    args.open_app = True  # the command line opens the app once this command returns (commands never import it)
    return 0
