"""Datasets: the dataset tree with token counts, a file preview, skipped files, and "prepare".

Scanning, previews and preparation run in thread workers that only post messages
(``tui/messages.py``); the handlers below put the results into the widgets.
``forgellm_tui.core.datasets`` is imported inside the workers, so opening the app stays fast.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Select, Static, TabbedContent, TabPane, Tree
from textual.worker import Worker, WorkerState, get_current_worker

from forgellm_tui.core.datasets import printable
from ..dialogs import PathDialog, PrepareChoice, PrepareDialog
from forgellm_tui.format import grouped, human_count, human_size, short_path
from ..listing import has_tokenizer, tokenizer_models
from ..messages import (DataPrepared, ListingLoaded, PreviewLoaded, PrepareFinished, PrepareProgress, ScanFinished,
                        ScanProgress)
from ..widgets import (DatasetPane, DatasetTree, FilePreview, JobProgress, ModelSelect, PrepareSummary,
                       SkippedTable, TotalsTable)
from ..widgets.model_select import OTHER
from .base import ForgeScreen
from .listing_worker import ListingMixin


def next_step_rows(settings) -> list[str]:
    from ..next_step import next_step

    text = next_step(settings)
    return [text] if text else []


class DatasetsScreen(ListingMixin, ForgeScreen):
    """Browse ``dataset/`` with real token counts and prepare ``data/<name>/``."""

    SCREEN_TITLE = "Datasets"
    BINDINGS = [
        Binding("r", "rescan", "Rescan", tooltip="Count files, words and tokens again."),
        Binding("p", "prepare", "Prepare",
                tooltip="Prepare train/valid data (CPT, IFT or preference pairs) from the dataset."),
        Binding("m", "model", "Model", tooltip="Choose the model whose tokenizer counts the tokens."),
        Binding("v", "tab('preview')", "Preview", show=False, tooltip="Show the preview of the highlighted file."),
        Binding("t", "tab('totals')", "Totals", show=False, tooltip="Show the totals per category."),
        Binding("s", "tab('skipped')", "Skipped", show=False, tooltip="Show the files the scan skipped and why."),
        Binding("o", "tab('result')", "Output", show=False, tooltip="Show the result of the last prepare."),
        Binding("x", "cancel_prepare", "Stop prepare", show=False, tooltip="Stop a running prepare."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scan = None
        """The last ``DatasetScan`` (None before the first scan or after an error)."""
        self._model: Path | None = None
        self._offer: tuple[str, str | None] = ("cpt", None)
        """What ``p`` offers to prepare: ("preference", FILE) on a file of preference pairs, ("preference",
        None) on the dataset's preference folder (all its files), else CPT."""
        self._previewing: str | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="datasets-toolbar", classes="toolbar"):
            yield Label("tokens by ", classes="toolbar-label")
            yield ModelSelect(self.settings.workspace, id="model-select")
            yield Static("", id="scan-info")
        yield Static("", id="next-step", markup=False)
        with Horizontal(id="datasets-main"):
            yield DatasetPane(id="tree-pane")
            with TabbedContent(id="dataset-tabs", initial="preview"):
                with TabPane("Preview", id="preview"):
                    yield FilePreview(id="file-preview")
                with TabPane("Totals", id="totals"):
                    with VerticalScroll():
                        yield TotalsTable(id="totals-table")
                with TabPane("Skipped", id="skipped"):
                    yield SkippedTable(id="skipped-table")
                with TabPane("Output", id="result"):
                    with VerticalScroll():
                        yield PrepareSummary(id="prepare-summary")
        yield JobProgress("Scanning", id="scan-progress")
        yield JobProgress("Preparing", id="prepare-progress")

    def on_mount(self) -> None:
        models = tokenizer_models(self.settings)
        self._model = models[0] if models else None
        self.query_one(ModelSelect).set_models(models, self._model)
        self.query_one(DatasetTree).focus()
        self.action_rescan()

    def on_screen_resume(self) -> None:
        """Offer models published or downloaded since (the counts stay until ``r``); say the next step."""
        self.load_listing("next-step", partial(next_step_rows, self.settings))
        select = self.query_one(ModelSelect)
        known = [Path(v) for _label, v in select.options()]
        fresh = tokenizer_models(self.settings)
        if fresh != known[: len(fresh)] and not select.expanded:
            select.set_models(fresh + [p for p in known if p not in fresh], self._model)

    def on_listing_loaded(self, event: ListingLoaded) -> None:
        if event.name == "next-step":
            line = self.query_one("#next-step", Static)
            line.update(event.rows[0] if event.rows else "")
            line.set_class(bool(event.rows), "-shown")

    # ------------------------------------------------------------------ scanning

    def action_rescan(self) -> None:
        """Scan the dataset folder again with the chosen model's tokenizer."""
        self.query_one("#scan-progress", JobProgress).start("Scanning", short_path(self.settings.dataset_dir))
        self._scan_worker(self.settings.dataset_dir, self._model)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False, description="Counting tokens")
    def _scan_worker(self, root: Path, model: Path | None) -> None:
        from forgellm_tui.core.datasets import scan_dataset
        from forgellm_tui.core.errors import ForgeError

        worker = get_current_worker()

        def progress(done: int, total: int, rel: str) -> None:
            self.post_message(ScanProgress(done, total, rel))

        try:
            # counts are cached per file (size, mtime, tokenizer): a rescan of an unchanged tree is quick
            scan = scan_dataset(root, model_path=model, progress=progress, cancel=worker.cancelled_event)
        except ForgeError as exc:
            self.post_message(ScanFinished(error=str(exc)))
            return
        if not (worker.is_cancelled or getattr(scan, "cancelled", False)):
            self.post_message(ScanFinished(scan=scan))

    def on_scan_progress(self, event: ScanProgress) -> None:
        self.query_one("#scan-progress", JobProgress).advance(event.done, event.total, event.rel)

    def on_scan_finished(self, event: ScanFinished) -> None:
        self.query_one("#scan-progress", JobProgress).stop()
        tree = self.query_one(DatasetTree)
        info = self.query_one("#scan-info", Static)
        self.scan = event.scan
        preview = self.query_one(FilePreview)
        if event.error:
            tree.show_message("No dataset to show.")
            preview.show_summary("Cannot scan the dataset", [event.error])
            info.update(f"[b red]✗[/] {short_path(self.settings.dataset_dir)}")
            self.notify(event.error, title="Dataset", severity="error", timeout=10, markup=False)
            return
        scan = event.scan
        self.query_one(TotalsTable).show_scan(scan)
        self.query_one(SkippedTable).show_skipped(scan.skipped)
        self.query_one("#dataset-tabs", TabbedContent).get_tab("skipped").label = (
            f"Skipped ({len(scan.skipped)})" if scan.skipped else "Skipped")
        tokens = sum(f.tokens for f in scan.files)
        info.update(f"{grouped(len(scan.files))} files · {human_count(tokens)} tokens · {scan.tokenizer_used}")
        if not scan.files:
            where = short_path(self.settings.dataset_dir)
            message = (f"{where}: no text files found — put .txt/.md/.jsonl files in category folders "
                       f"such as {where}/core/ and press r")
            tree.show_message("No text files yet.")
            preview.show_summary("Empty dataset", [message])
            self.notify(message, title="Dataset", severity="warning", timeout=10, markup=False)
            return
        tree.show_scan(scan)
        if getattr(scan, "note", ""):
            self.notify(scan.note, title="Tokenizer", severity="warning", timeout=10, markup=False)
        if scan.skipped:
            self.notify(f"{len(scan.skipped)} files skipped (binary, empty or not UTF-8): press s to see them",
                        title="Dataset", severity="warning", markup=False)

    # ------------------------------------------------------------------ preview

    @on(Tree.NodeHighlighted, "#dataset-tree")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        info = event.node.data
        preview = self.query_one(FilePreview)
        if info is None:
            return
        self._offer = ("preference", None) if info.rel.split("/")[0] == "preference" else ("cpt", None)
        if info.kind == "file":
            preview.show_entry(info.entry)
            self._previewing = str(info.entry.path)
            self._preview_worker(self._previewing)
            return
        tokenizer = self.scan.tokenizer_used if self.scan else "?"
        preview.show_summary(f"{printable(info.rel or info.name)}/", [
            f"{grouped(info.files)} files · {human_size(info.size)}",
            f"{grouped(info.words)} words",
            f"{grouped(info.tokens)} tokens ({tokenizer})",
        ])

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False, description="Reading preview")
    def _preview_worker(self, path: str) -> None:
        from forgellm_tui.core.datasets import jsonl_kind, read_preview

        try:
            text = read_preview(Path(path))
        except Exception as exc:  # a file that vanished or became unreadable since the scan
            text = f"cannot preview {path}: {exc}"
        kind = jsonl_kind(Path(path))[0] if path.endswith(".jsonl") else None
        self.post_message(PreviewLoaded(path, text, kind))

    def on_preview_loaded(self, event: PreviewLoaded) -> None:
        preview = self.query_one(FilePreview)
        preview.show_text(event.text)
        if event.path == self._previewing:
            preview.show_kind(event.kind)
            if event.kind == "preference":
                self._offer = ("preference", event.path)

    # ------------------------------------------------------------------ model for token counts

    def action_model(self) -> None:
        """Focus the model selector and open it."""
        select = self.query_one(ModelSelect)
        select.focus()
        select.action_show_overlay()

    @on(Select.Changed, "#model-select")
    def _model_changed(self, event: Select.Changed) -> None:
        select = self.query_one(ModelSelect)
        if event.value == OTHER:
            self.app.push_screen(PathDialog("Model folder", "Folder of a model whose tokenizer counts tokens:",
                                            str(self.settings.models_dir) + "/"), self._folder_chosen)
            return
        model = select.model_path
        if model != self._model:
            self._model = model
            self.action_rescan()

    def _folder_chosen(self, path: Path | None) -> None:
        select = self.query_one(ModelSelect)
        if path is not None and not has_tokenizer(path):
            self.notify(f"{path}: no tokenizer files (tokenizer.json, tokenizer_config.json) — "
                        "choose a model folder that has a tokenizer", title="Model", severity="error",
                        timeout=10, markup=False)
            path = None
        if path is None:
            select.set_models([Path(v) for _l, v in select.options()], self._model)
            return
        select.set_models([Path(v) for _l, v in select.options()], path)

    # ------------------------------------------------------------------ prepare

    def _group_busy(self, group: str) -> bool:
        return any(w.group == group and w.is_running for w in self.app.workers)

    def action_prepare(self) -> None:
        """Ask for the prepare settings, then prepare in a thread worker."""
        if self._group_busy("prepare"):
            self.notify("Preparing is already running (x stops it).", severity="warning")
            return
        models = self.query_one(ModelSelect).options()
        model = str(self._model) if self._model else None
        self.app.push_screen(PrepareDialog(models, model, *self._offer), self._start_prepare)

    def _start_prepare(self, choice: PrepareChoice | None) -> None:
        if choice is None:
            return
        self.query_one("#prepare-progress", JobProgress).start(f"Preparing {choice.kind.upper()}",
                                                               f"data/{choice.name}")
        self._prepare_worker(choice)

    @work(thread=True, group="prepare", exit_on_error=False, description="Preparing training data")
    def _prepare_worker(self, choice: PrepareChoice) -> None:
        from forgellm_tui.core.datasets import PrepareOptions, prepare
        from forgellm_tui.core.errors import ForgeError

        worker = get_current_worker()
        settings = self.settings
        try:
            options = PrepareOptions(kind=choice.kind, dataset_dir=settings.dataset_dir,
                                     output_dir=settings.data_dir / choice.name,
                                     model_path=Path(choice.model_path) if choice.model_path else None,
                                     target_tokens=choice.target_tokens, valid_fraction=choice.valid_fraction,
                                     mix_ratio=choice.mix_ratio,
                                     preference_input=Path(choice.input_path) if choice.input_path else None)
            result = prepare(options, progress=lambda d, t, m: self.post_message(PrepareProgress(d, t, m)),
                             cancel=worker.cancelled_event)
        except ForgeError as exc:
            self.post_message(PrepareFinished(error=str(exc), cancelled=worker.is_cancelled))
            return
        self.post_message(PrepareFinished(result=result, cancelled=worker.is_cancelled))

    def on_prepare_progress(self, event: PrepareProgress) -> None:
        self.query_one("#prepare-progress", JobProgress).advance(event.done, event.total, event.message)

    def on_prepare_finished(self, event: PrepareFinished) -> None:
        self.query_one("#prepare-progress", JobProgress).stop()
        summary = self.query_one(PrepareSummary)
        if event.cancelled:
            summary.show_error("stopped before the end; nothing was written to data/")
            self.notify("Prepare stopped.", severity="warning")
            return
        self.action_tab("result")
        if event.error:
            summary.show_error(event.error)
            self.notify(event.error, title="Prepare", severity="error", timeout=10, markup=False)
            return
        result = event.result
        summary.show_result(result, self.settings.workspace)
        self.notify(f"{short_path(result.output_dir)}: {grouped(result.train_records)} train / "
                    f"{grouped(result.valid_records)} valid records", title="Prepared", markup=False)
        self.app.post_message(DataPrepared(str(result.output_dir)))
        self.load_listing("next-step", partial(next_step_rows, self.settings))

    def action_cancel_prepare(self) -> None:
        workers = [w for w in self.app.workers if w.group == "prepare" and w.is_running]
        for worker in workers:
            worker.cancel()
        if not workers:
            self.notify("Nothing to stop.")

    # ------------------------------------------------------------------ misc

    def action_tab(self, tab: str) -> None:
        self.query_one("#dataset-tabs", TabbedContent).active = tab
        self.call_after_refresh(self._keep_focus)

    def _keep_focus(self) -> None:
        """A hidden tab takes its focused widget with it: give the focus back to the tree."""
        if self.focused is None:
            self.query_one(DatasetTree).focus()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """An unexpected error (not a ForgeError) ends a job: hide its progress row.

        The message bubbles on to the app, which shows the error in a dialog.
        """
        if event.state == WorkerState.ERROR and event.worker.group in ("scan", "prepare"):
            self.query_one(f"#{event.worker.group}-progress", JobProgress).stop()
