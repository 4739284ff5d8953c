"""What the last "prepare" produced: records, tokens, train/valid sizes, problems."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from forgellm_tui.format import grouped, human_size, rel_path, short_path


def _count(value) -> int:
    if value is None:
        return 0
    return value if isinstance(value, int) else len(value)


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _problems(value, limit: int = 8) -> list[str]:
    if not value or isinstance(value, int):
        return []
    lines = [str(v) for v in list(value)[:limit]]
    if len(value) > limit:
        lines.append(f"… and {len(value) - limit} more")
    return lines


class PrepareSummary(Static):
    """Shows a ``PrepareResult`` (or a hint before the first run)."""

    DEFAULT_CSS = """
    PrepareSummary { padding: 0 1; height: auto; }
    """

    def on_mount(self) -> None:
        self.update(Text("Nothing prepared yet: press p to prepare training data.", style="italic"))

    def show_result(self, result, workspace: Path | None = None) -> None:
        """Show ``result``; paths inside ``workspace`` are shown relative to it."""
        unit = {"cpt": "chunks", "preference": "pairs"}.get(result.kind, "examples")
        sizes = {name: _file_size(Path(result.output_dir) / f"{name}.jsonl") for name in ("train", "valid")}
        sup = getattr(result, "supervision", None) or {}
        table = Table.grid(padding=(0, 1 if sup else 2))  # the supervised column must fit a half-width pane
        table.add_column(style="bold")
        for _ in range(3 + (1 if sup else 0)):
            table.add_column(justify="right")

        def row(name, records, tokens, size, found) -> None:
            cells = [grouped(records), grouped(tokens)] + ([grouped(found.get("supervised"))] if sup else [])
            table.add_row(name, *cells, human_size(size))

        table.add_row("", Text(unit, style="dim"), Text("tokens", style="dim"),
                      *([Text("supervised", style="dim")] if sup else []), Text("file", style="dim"))
        row("train", result.train_records, result.train_tokens, sizes["train"], sup.get("train", {}))
        row("valid", result.valid_records, result.valid_tokens, sizes["valid"], sup.get("valid", {}))
        both = {"supervised": sum(sup.get(s, {}).get("supervised", 0) for s in ("train", "valid"))}
        row("total", result.train_records + result.valid_records, result.train_tokens + result.valid_tokens,
            (sizes["train"] or 0) + (sizes["valid"] or 0), both)
        head = Text.assemble(
            ("✓ prepared ", "bold green"), (result.kind.upper(), "bold"), " data in ",
            (rel_path(result.output_dir, workspace) if workspace else short_path(result.output_dir), "bold"), "\n",
            f"{grouped(result.documents)} {'pairs' if result.kind == 'preference' else 'documents'} · "
            f"tokenizer {result.tokenizer_used}",
        )
        if getattr(result, "general_records", 0):
            head.append(f"\n{grouped(result.general_records)} general records mixed in")
            share = getattr(result, "general_share", None)
            if share:
                head.append(f" ({share:.0%} of tokens)")
        parts = [head, Text(""), table]
        if sup:
            rendered = sum(sup.get(s, {}).get("tokens", 0) for s in ("train", "valid"))
            lost = sum(sup.get(s, {}).get("lost", 0) for s in ("train", "valid"))
            parts.append(Text(f"supervised: tokens the loss sees (every assistant turn) of {grouped(rendered)} "
                              f"with the chat template; {grouped(lost)} lost past "
                              f"{grouped(result.supervision_length)} tokens", style="dim"))
        pairs = getattr(result, "pair_tokens", None) or {}
        if pairs:
            parts.append(Text("prompt / chosen / rejected tokens:", style="dim"))
        for split, found in pairs.items():
            parts.append(Text(f"  {split:<5} {grouped(found['prompt_tokens'])} / {grouped(found['chosen_tokens'])} / "
                              f"{grouped(found['rejected_tokens'])}", style="dim"))
        for warning in getattr(result, "warnings", []) or []:
            parts.append(Text(f"⚠ {warning}", style="yellow"))
        skipped = _count(result.skipped)
        bad = getattr(result, "bad_line_count", 0) or _count(result.bad_lines)
        if skipped or bad:
            parts.append(Text(f"\n{skipped} files skipped · {bad} bad lines", style="bold yellow"))
            parts.extend(Text(line, style="yellow") for line in _problems(result.bad_lines) + _problems(result.skipped))
        self.update(Group(*parts))

    def show_error(self, message: str) -> None:
        self.update(Text.assemble(("✗ prepare failed\n", "bold red"), message))
