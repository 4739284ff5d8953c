"""Tables of the Checkpoints screen: runs, one run's checkpoints, and a comparison of runs."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable

from forgellm_tui.core.runs import eval_of
from ...format import distinct_labels, middle

STATUS_STYLE = {"running": "bold green", "paused": "yellow", "finished": "cyan", "stopped": "yellow",
                "failed": "bold red", "interrupted": "bold red", "unreadable": "bold red", "unknown": "dim"}
MARK = "●"


def loss_text(value: float | None, style: str = "") -> Text:
    return Text("—" if value is None else f"{value:.4f}", style=style, justify="right")


def date_text(stamp: str | None) -> str:
    """``2026-01-15T10:30:00Z`` -> ``2026-01-15 10:30`` (UTC, as written by the engine)."""
    if not stamp:
        return "—"
    return stamp.replace("T", " ")[:16]


NAME_WIDTH = 28
"""Run names longer than this are cut in the middle (the model and the counter or date stay)."""
SHORT = (("lowest validation loss", "lowest val"), ("smallest generalisation gap", "small gap"),
         ("most stable recent training loss", "stable"), ("no validation loss recorded", "no val"),
         ("copy of checkpoint", ""), ("not evaluated", "no val"), ("not validated", "not validated"))


def short_reason(reason: str) -> str:
    """A ranking reason in a few words for a narrow column (the notes show it in full)."""
    parts = []
    for part in (p.strip() for p in (reason or "").split(";") if p.strip()):
        short = next((s for long, s in SHORT if part.startswith(long)), None)
        if short is None and part.startswith("validation loss") and "(" in part:
            short = part[part.index("(") + 1:].rstrip(")")  # "+0.0125 vs best"
        parts.append(part if short is None else short)
    return " · ".join(p for p in parts if p)  # "best/" says it is a copy; the notes say of which


def compact_number(value: float | None, width: int) -> str:
    """``value`` in at most ``width`` characters (``12.34``, ``123.4``, ``1234``, ``12k``); "—" when unknown."""
    if value is None:
        return "—"
    for text in (f"{value:.2f}", f"{value:.1f}", f"{value:.0f}"):
        if len(text) <= width:
            return text
    return f"{value / 1000:.0f}k" if value < 1e6 else "≫"


def eval_cells(found) -> tuple[Text, Text, Text]:
    """Test perplexity, its change against the base (green when lower) and task accuracy in percent."""
    if found is None:
        return tuple(Text("—", style="dim", justify="right") for _ in range(3))
    pct = found.change_pct
    delta = Text("—" if pct is None else f"{pct:+.0f}", justify="right",
                 style="" if pct is None else ("green" if pct < 0 else "red"))
    acc = "—" if found.accuracy is None else f"{100 * found.accuracy:.0f}"
    return (Text(compact_number(found.perplexity, 5), justify="right"), delta, Text(acc, justify="right"))


class KeyedTable(DataTable):
    """A row-cursor table whose rows are keyed by a path; columns come from ``COLUMNS``.

    Empty tables stay empty (the screen says why elsewhere): a placeholder row would widen the first
    column for good, since DataTable column widths only grow.
    """

    COLUMNS: tuple[str, ...] = ()
    WIDTHS: dict[str, int] = {}
    """Fixed widths of some columns (the others grow with their content)."""

    CELL_PADDING = 1
    """Blank cells on each side of every column."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.cell_padding = self.CELL_PADDING
        for label in self.COLUMNS:
            self.add_column(self.header(label), key=label or "mark", width=self.WIDTHS.get(label))

    def header(self, label: str) -> str | Text:
        """The column's header as drawn."""
        return label

    def current_key(self) -> str | None:
        """The key of the row under the cursor, or None (empty table or a placeholder row)."""
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - the table is being refilled
            return None


class RunsTable(KeyedTable):
    """One row per run; the first column marks runs chosen for comparison."""

    COLUMNS = ("", "run", "status", "iters", "best val", "started (UTC)", "type", "model")
    SORT_COLUMNS = {"run": "name", "type": "type", "model": "model", "status": "status", "iters": "iterations",
                    "best val": "best val", "started (UTC)": "date"}

    def show(self, runs: list, marked: set[str]) -> None:
        """Replace the rows, keeping the cursor on the same run when it is still listed."""
        current = self.current_key()
        self.clear()
        for run in runs:
            iters = f"{run.iteration:,}" + (f"/{run.max_iterations:,}" if run.max_iterations and run.is_active else "")
            model = Path(run.model).name if run.model else "—"
            self.add_row(Text(MARK, style="bold magenta") if str(run.path) in marked else "",
                         middle(run.name, NAME_WIDTH), Text(run.status, style=STATUS_STYLE.get(run.status, "dim")),
                         Text(iters, justify="right"), loss_text(run.best_validation_loss),
                         date_text(run.started_at or run.updated_at), run.training_type.upper(), middle(model, 20),
                         key=str(run.path))
        if current is not None and current in [str(r.path) for r in runs]:
            self.move_cursor(row=self.get_row_index(current))


REASON_GAP = "  "
"""Between the rank and the reason of a checkpoint (the reason is left-aligned after a right-aligned rank)."""


class CheckpointTable(KeyedTable):
    """A run's checkpoints: ``best/`` (lowest validation loss) first, then the newest numbered ones.

    ``#``: the recommended order (validation loss, gap, stability), a different choice from best/
    (lowest validation loss).
    """

    COLUMNS = ("ckpt", "iter", "val", "ppl", "Δ%", "acc", "#", "why")
    """Short headers and no gap column (the notes under the table give it): at 80 columns the reason
    ("why") must fit beside the loss chart. ``ppl`` (test perplexity), ``Δ%`` (its change against the
    base model) and ``acc`` (task accuracy) come from ``eval/<checkpoint>.json``; "—" until evaluated."""
    WIDTHS = {"ckpt": 8, "iter": 5, "val": 7, "ppl": 6, "Δ%": 5, "acc": 4, "#": 3}
    """Widths with the gap between columns included: the table has no cell padding (two cells between
    every pair of columns left the reason four characters at 80 columns), so the numbers, right-aligned
    under right-aligned headers, keep one space before them and the label column one after it."""
    NUMERIC = ("iter", "val", "ppl", "Δ%", "acc", "#")

    CELL_PADDING = 0

    def header(self, label: str) -> Text:
        if label in self.NUMERIC:
            return Text(label, justify="right")
        return Text(REASON_GAP + label if label == "why" else label)  # the reason keeps two spaces from the rank

    def show(self, rows: list, evals: dict | None = None) -> None:
        self.clear()
        room = self.size.width - sum(self.WIDTHS.values()) - 1
        why = self.columns.get(next((k for k in self.columns if k.value == "why"), None))
        if why is not None and room >= 12:  # the reason fills what is left, cut with "…" if longer
            why.width, why.auto_width = room, False
        for row in rows:
            style = "bold green" if row.label == "best" else ""
            rank = Text(str(row.rank) if row.rank else "—", justify="right",
                        style="bold" if row.rank == 1 else "")
            found = eval_of(evals or {}, row.label, row.iteration)
            reason = Text(REASON_GAP + short_reason(row.reason), style="dim", no_wrap=True, overflow="ellipsis")
            self.add_row(Text(row.label + ("/" if row.label == "best" else ""), style=style),
                         Text(str(row.iteration), justify="right"), loss_text(row.validation_loss, style),
                         *eval_cells(found), rank, reason, key=str(row.path))


class CompareTable(KeyedTable):
    """Runs side by side, lowest best-validation loss first."""

    COLUMNS = ("run", "type", "best val", "at iter", "final train", "iters", "lr", "batch")

    def show(self, rows: list) -> None:
        self.clear()
        labels = distinct_labels([row.name for row in rows], NAME_WIDTH)
        for n, row in enumerate(rows):
            self.add_row(Text(labels[n], style="bold" if n == 0 else ""),
                         f"{row.training_type.upper()} {row.fine_tune_type or ''}".strip(),
                         loss_text(row.best_validation_loss, "bold green" if n == 0 else ""),
                         Text("—" if row.best_iteration is None else str(row.best_iteration), justify="right"),
                         loss_text(row.final_training_loss), Text(f"{row.iterations:,}", justify="right"),
                         "—" if row.learning_rate is None else f"{row.learning_rate:g}",
                         Text("—" if row.batch_size is None else str(row.batch_size), justify="right"))
