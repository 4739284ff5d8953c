"""Checkpoints: every run (sort, filter, mark to compare), its ranked checkpoints, loss chart and config,
and the published models with their README. The actions (publish, chat, resume, delete, commands)
live in :mod:`.checkpoint_actions`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Markdown, Static, TabbedContent, TabPane, TextArea

from forgellm_tui.core.runs import (BEST_WORDS, RANK_WORDS, SORT_KEYS, all_runs, eval_of, filter_runs, published_models,
                                    run_detail, sort_runs)
from forgellm_tui.format import human_size
from ..listing import read_text
from ..messages import ListingLoaded, RunDetailLoaded, ShowRun
from ..widgets.job_progress import JobProgress
from ..widgets.loss_plot import LossPlot
from ..widgets.run_tables import CheckpointTable, CompareTable, KeyedTable, RunsTable
from .base import LEAVE_FIELD, ForgeScreen
from .checkpoint_actions import CheckpointActions
from .listing_worker import ListingMixin

EMPTY_RUNS = "no runs yet: train one on the Training screen (2)"


class CheckpointsScreen(CheckpointActions, ListingMixin, ForgeScreen):
    """Runs and their checkpoints; publish, compare, chat, resume, delete."""

    SCREEN_TITLE = "Checkpoints"
    BINDINGS = [
        Binding("p", "publish", "Publish", tooltip="Publish the selected checkpoint as a standalone model."),
        Binding("v", "evaluate", "Eval",
                tooltip="Evaluate the selected checkpoint and the base: perplexity, accuracy."),
        # Both Esc bindings live here (a screen's binding for a key replaces its base class's): Textual tries
        # them in turn and each one's check_action disables it when it does not apply, so Esc leaves a text
        # field first and stops an evaluation only while one runs.
        LEAVE_FIELD,
        Binding("escape", "cancel_eval", "Stop eval", tooltip="Stop the evaluation (nothing is written)."),
        Binding("o", "chat", "Chat", tooltip="Chat with the selected checkpoint or published model."),
        Binding("space", "mark", "Mark", show=False, tooltip="Mark or unmark the selected run for comparison."),
        Binding("c", "compare", "Compare", tooltip="Compare the marked runs: validation curves and a summary."),
        Binding("d", "delete", "Delete", tooltip="Delete the selected checkpoint, run or published model."),
        Binding("m", "export_metrics", "Export", tooltip="Write the run's metrics as CSV and Markdown into RUN/export/."),
        Binding("e", "resume", "Resume", show=False, tooltip="Continue the selected run on the Training screen."),
        Binding("x", "commands", "Command", show=False,
                tooltip="Show the shell commands that reproduce, resume or publish the run."),
        Binding("s", "sort", "Sort", show=False, tooltip="Sort the runs by the next column."),
        Binding("slash", "filter", "Filter", show=False, tooltip="Filter the runs by name, model, type or status."),
        Binding("r", "refresh", "Refresh", show=False, tooltip="Read the runs and published models again."),
        Binding("u", "focus_runs", "Runs", show=False, tooltip="Move to the table of runs."),
        Binding("b", "published", "Published", show=False, tooltip="Show the published models and their README."),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.runs: list = []
        """Every run read from the workspace (``core.runs.RunInfo``)."""
        self.detail = None
        """The selected run's ``core.run_analysis.RunDetail`` (None until loaded)."""
        self.marked: set[str] = set()
        """Run folders marked for comparison."""
        self.sort_key, self.sort_reverse = "date", None
        self.wanted_run: str | None = None
        """A run folder to select when the runs are next read (``ShowRun``)."""
        self._runs_reading = 0
        """Reads of the runs started and not back yet."""
        self.samples: list[dict] = []
        """The selected run's samples.jsonl records."""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="ckpt-runs-pane", classes="pane"):
            with Horizontal(id="ckpt-runs-head"):
                yield Label("runs", classes="pane-title", id="ckpt-runs-title")
                yield Input(placeholder="filter (/)", id="run-filter", compact=True)
                yield Label("", id="run-sort")
            yield RunsTable(id="ckpt-runs")
        with TabbedContent(id="ckpt-tabs", initial="tab-ckpts"):
            with TabPane("checkpoints", id="tab-ckpts"):
                with Horizontal(id="ckpt-detail"):
                    with Vertical(id="ckpt-left"):
                        yield CheckpointTable(id="ckpt-table")
                        yield Static("", id="ckpt-notes")
                        yield Static("", id="ckpt-samples")
                    yield LossPlot(id="run-plot")
            with TabPane("config", id="tab-config"):
                yield TextArea("", id="run-config", read_only=True, show_line_numbers=True)
            with TabPane("compare", id="tab-compare"):
                with Vertical(id="compare-view"):
                    yield CompareTable(id="compare-table")
                    yield LossPlot(id="compare-plot")
            with TabPane("published", id="tab-published"):
                with Horizontal(id="published-view"):
                    yield PublishedTable(id="published-table")
                    with VerticalScroll(id="published-readme-pane"):
                        yield Markdown("", id="published-readme")
        yield JobProgress("Publishing", id="publish-progress")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "cancel_eval":  # Esc stops a running evaluation; otherwise it leaves a text field
            return any(w.group == "eval" and not w.is_finished for w in self.app.workers)
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        self.query_one("#ckpt-runs", RunsTable).focus()
        self.query_one("#compare-table", CompareTable).show([])
        self.query_one("#compare-plot", LossPlot).show_empty("validation loss: mark runs (space), then c")
        self._show_sort()
        self.set_interval(5, self._refresh_if_training)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    # ------------------------------------------------------------------ loading

    def action_refresh(self) -> None:
        """Read the runs and the published models again (in a thread)."""
        self._runs_reading += 1
        self.load_listing("runs", partial(all_runs, self.settings))
        self.load_listing("published", partial(published_models, self.settings))

    def _refresh_if_training(self) -> None:
        if self.is_current and any(r.is_active for r in self.runs):
            self.action_refresh()

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        if event.name == "runs":
            self._runs_reading = max(self._runs_reading - 1, 0)
            self.runs = event.rows
            live = {str(r.path) for r in self.runs}
            self.marked &= live
            self._show_runs()
            self._select_wanted_run()
            if not self._runs_reading:  # a run not listed now (filtered out) is not waited for
                self.wanted_run = None
            if self.detail is not None and str(self.detail.run.path) in live:
                self._load_detail(str(self.detail.run.path))
        elif event.name == "published":
            self.query_one("#published-table", PublishedTable).show(event.rows)
            if not event.rows:
                self.query_one("#published-readme", Markdown).update(
                    "*Nothing published yet.* Press **p** on a checkpoint to fuse it into a standalone model.")

    def on_show_run(self, event: ShowRun) -> None:
        """Another screen asks to show a run: select its row now if listed, else once the runs are read."""
        self.wanted_run = event.run_dir
        self._select_wanted_run()
        if not self._runs_reading:  # the list is current: nothing more to wait for
            self.wanted_run = None

    def _select_wanted_run(self) -> None:
        table = self.query_one("#ckpt-runs", RunsTable)
        keys = [str(Path(str(key.value)).resolve()) for key in table.rows]
        if self.wanted_run in keys:
            table.move_cursor(row=keys.index(self.wanted_run))
            table.focus()

    def _show_runs(self) -> None:
        text = self.query_one("#run-filter", Input).value
        rows = sort_runs(filter_runs(self.runs, text), self.sort_key, self.sort_reverse)
        table = self.query_one("#ckpt-runs", RunsTable)
        table.show(rows, self.marked)
        title = f"runs ({len(rows)}/{len(self.runs)})" if text.strip() else f"runs ({len(self.runs)})"
        title += f" · {len(self.marked)} marked" if self.marked else ""
        if not rows:
            title += " · " + (EMPTY_RUNS if not self.runs else f"no run matches '{text}'")
        self.query_one("#ckpt-runs-title", Label).update(title)
        self.call_after_refresh(self._hint_columns, title)
        if not rows:
            self._show_detail(None)
        elif self.detail is None or str(self.detail.run.path) != table.current_key():
            self._load_detail(table.current_key())

    def _hint_columns(self, title: str) -> None:
        """Say so when columns are off to the right (type, model at 80 columns): → scrolls to them."""
        table = self.query_one("#ckpt-runs", RunsTable)
        hidden = table.row_count and table.virtual_size.width > table.scrollable_content_region.width
        self.query_one("#ckpt-runs-title", Label).update(title + (" · → more columns" if hidden else ""))

    def _load_detail(self, path: str | None) -> None:
        run = next((r for r in self.runs if str(r.path) == path), None)
        if run is not None:
            self._detail_worker(run)

    @work(thread=True, exclusive=True, group="run-detail", exit_on_error=False, description="Reading the run")
    def _detail_worker(self, run) -> None:
        from forgellm_tui.core.runs import read_samples

        self.post_message(RunDetailLoaded(str(run.path), run_detail(run, self.settings),
                                          samples=read_samples(run.path)[0]))

    def on_run_detail_loaded(self, event: RunDetailLoaded) -> None:
        if event.path == self.query_one("#ckpt-runs", RunsTable).current_key():
            self.samples = event.samples or []
            self._show_detail(event.detail)

    def _show_detail(self, detail) -> None:
        self.detail = detail
        table = self.query_one("#ckpt-table", CheckpointTable)
        plot = self.query_one("#run-plot", LossPlot)
        notes = self.query_one("#ckpt-notes", Static)
        config = self.query_one("#run-config", TextArea)
        if detail is None:
            table.show([])
            plot.show_empty("loss")
            notes.update(Text("no run selected", style="italic dim"))
            config.load_text("")
            self.samples = []
            self._show_samples(None)
            return
        previous = table.current_key()
        table.show(detail.checkpoints, detail.evals)
        keys = [str(c.path) for c in detail.checkpoints]
        if previous in keys:
            table.move_cursor(row=keys.index(previous))
        best = next((c for c in detail.checkpoints if c.label == "best"), None)
        plot.show_run(detail.train, detail.val, best.iteration if best else None)
        notes.update(self._notes(detail, self._checkpoint_row(table.current_key())))
        self._show_samples(self._checkpoint_row(table.current_key()))
        config.load_text(detail.config_text or "# config.yaml is missing")

    def _checkpoint_row(self, key: str | None):
        if self.detail is None:
            return None
        return next((c for c in self.detail.checkpoints if str(c.path) == key), None)

    @on(DataTable.RowHighlighted, "#ckpt-table")
    def _checkpoint_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is not None:
            row = self._checkpoint_row(event.row_key.value)
            self.query_one("#ckpt-notes", Static).update(self._notes(self.detail, row))
            self._show_samples(row)

    def _show_samples(self, row) -> None:
        """What the model said at the sampling point nearest the highlighted checkpoint (hidden when the
        run has no samples), one line per prompt."""
        from forgellm_tui.core.runs import nearest

        pane = self.query_one("#ckpt-samples", Static)
        records = nearest(self.samples, row.iteration) if row is not None else []
        pane.display = bool(records)
        if not records:
            pane.update("")
            return
        text = Text(f"says at iteration {records[0]['iteration']}:", style="dim", no_wrap=True, overflow="ellipsis")
        for record in records:
            text.append("\n")
            text.append(record["prompt"], style="bold")
            text.append(" → " + (" ".join(record["text"].split()) or "(nothing)"))
        pane.update(text)

    @staticmethod
    def _notes(detail, row=None) -> Text:
        """Problems first, then why the highlighted checkpoint ranks where it does, then the run's health."""
        run, text = detail.run, Text()
        for problem in detail.problems:
            text.append(f"! {problem}\n", style="red")
        if row is not None:
            text.append(f"{row.label}{'/' if row.label == 'best' else ''} (iteration {row.iteration})", style="bold")
            if row.label == "best":
                text.append(f" — {BEST_WORDS}")
            text.append(f" — {RANK_WORDS} #{row.rank}" if row.rank else "")
            text.append(f": {row.reason or 'not among the top three'}")
            text.append("" if row.gap is None else f" · gap (val − train) {row.gap:+.3f}", style="dim")
            text.append("\n")
            if row.protected:
                text.append("protected: cannot be deleted\n", style="dim")
            found = eval_of(detail.evals, row.label, row.iteration)
            if found is not None and found.perplexity is not None:
                text.append(f"test perplexity {found.perplexity:.3f}"
                            + ("" if found.change_pct is None else f" ({found.change_pct:+.1f}% vs base)")
                            + ("" if found.accuracy is None else f" · task accuracy {100 * found.accuracy:.0f}%")
                            + "\n", style="cyan")
        sign = detail.overfit
        text.append("⚠ overfitting: " if sign.overfitting else "✓ ", style="bold yellow" if sign.overfitting else "green")
        text.append(sign.message, style="yellow" if sign.overfitting else "dim")
        if run.best_iteration is not None and run.best_validation_loss is not None:
            text.append(f" · {BEST_WORDS} {run.best_validation_loss:.4f} at iteration {run.best_iteration}",
                        style="dim")
        if detail.base_model:
            text.append(f" · base {detail.base_model.name}", style="dim")
        if detail.settings:
            text.append(f"\nsettings: {detail.settings}", style="dim")
        return text

    # ------------------------------------------------------------------ navigation, sort, filter

    @on(DataTable.RowHighlighted, "#ckpt-runs")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._load_detail(event.row_key.value)

    @on(DataTable.RowSelected, "#ckpt-runs")
    def _run_selected(self) -> None:
        self.query_one("#ckpt-tabs", TabbedContent).active = "tab-ckpts"
        self.query_one("#ckpt-table").focus()

    @on(DataTable.RowHighlighted, "#published-table")
    def _published_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        readme = Path(key) / "README.md" if key else None
        text = read_text(readme) if readme is not None and readme.is_file() else "*no README.md in this folder*"
        self.query_one("#published-readme", Markdown).update(text if key else "")

    @on(DataTable.HeaderSelected, "#ckpt-runs")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = RunsTable.SORT_COLUMNS.get(str(event.column_key.value))
        if key is None:
            return
        self.sort_reverse = (not self._reversed()) if key == self.sort_key else None
        self.sort_key = key
        self._show_sort()
        self._show_runs()

    def _reversed(self) -> bool:
        return (self.sort_key == "date") if self.sort_reverse is None else self.sort_reverse

    def _show_sort(self) -> None:
        arrow = "↓" if self._reversed() else "↑"
        self.query_one("#run-sort", Label).update(f"sort: {self.sort_key} {arrow} (s)")

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.sort_reverse = None
        self._show_sort()
        self._show_runs()

    def action_filter(self) -> None:
        self.query_one("#run-filter", Input).focus()

    @on(Input.Changed, "#run-filter")
    def _filter_changed(self) -> None:
        self._show_runs()

    @on(Input.Submitted, "#run-filter")
    def _filter_done(self) -> None:
        self.query_one("#ckpt-runs").focus()

    def action_focus_runs(self) -> None:
        self.query_one("#ckpt-runs").focus()

    def leave_field_target(self, field):
        """Esc in the filter keeps the filter and goes back to the runs it filters."""
        return self.query_one("#ckpt-runs") if field.id == "run-filter" else None

    def action_published(self) -> None:
        self.query_one("#ckpt-tabs", TabbedContent).active = "tab-published"
        self.query_one("#published-table").focus()


class PublishedTable(KeyedTable):
    """Published models: name, size, bits and perplexity change when quantized, and where they came from."""

    COLUMNS = ("model", "bits", "Δppl", "size", "from")

    def show(self, rows: list) -> None:
        current = self.current_key()
        self.clear()
        for row in rows:
            source = f"{row.run} @ {row.checkpoint_iteration}" if row.run else "—"
            change = "—" if row.perplexity_change_pct is None else f"{row.perplexity_change_pct:+.1f}%"
            self.add_row(row.name, row.bits or "full", Text(change, justify="right"),
                         Text(human_size(row.size), justify="right"), source, key=str(row.path))
        if current in [str(r.path) for r in rows]:
            self.move_cursor(row=[str(r.path) for r in rows].index(current))
