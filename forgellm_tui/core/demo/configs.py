"""Demo training configs and prepared data for the demo workspace (filled in by the engine work)."""

from __future__ import annotations

from pathlib import Path


DEMO_CONFIGS = ("cpt-demo.yaml", "ift-demo.yaml", "dpo-demo.yaml")


def demo_config_text(name: str) -> str:
    """A demo config shipped with the package (identical to the repository's configs/<name>)."""
    from importlib import resources

    return resources.files("forgellm_tui").joinpath("data", name).read_text(encoding="utf-8")


def write_demo_configs(folder: Path, progress) -> None:
    """``configs/cpt-demo.yaml``, ``configs/ift-demo.yaml`` and ``configs/dpo-demo.yaml``; a file the user
    edited is kept."""
    from forgellm_tui.core import fsio

    written = []
    for name in DEMO_CONFIGS:
        target = Path(folder) / "configs" / name
        if target.exists():
            continue
        fsio.atomic_write_text(target, demo_config_text(name))
        written.append(name)
    progress(f"configs: {', '.join(written)}" if written else "configs: already written")


def prepare_demo_data(folder: Path, progress) -> None:
    """data/cpt-demo (127-token chunks of forge-tiny: + EOS = max_seq_length 128) and data/ift-demo."""
    from forgellm_tui.core.demo.data import prepare_demo

    prepare_demo(folder, progress)
