"""Actions of the Checkpoints screen: mark/compare, publish (thread worker, group "publish"), evaluate
(thread worker, group "eval"), chat with a checkpoint, resume a run, delete, export the metrics, and the
headless commands. The screen class mixes this in.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.widgets import TabbedContent

from forgellm_tui.core.errors import ForgeError
from ..controllers.workers import error_line
from ..dialogs import CommandsDialog, ConfirmDialog, PublishDialog, PublishRequest
from ..messages import (CompareLoaded, DeleteFinished, EvalFinished, EvalProgress, OpenInChat, PublishFinished,
                        PublishProgress, ResumeRun)
from ..widgets.job_progress import JobProgress


class CheckpointActions:
    """Mixed into ``CheckpointsScreen``; uses its ``runs``, ``detail``, ``marked`` and widgets."""

    # ------------------------------------------------------------------ selection helpers

    def _selected_run(self):
        key = self.query_one("#ckpt-runs").current_key()
        return next((r for r in self.runs if str(r.path) == key), None)

    def _selected_checkpoint(self):
        """The checkpoint row under the cursor of the checkpoint table (best/ when none is chosen)."""
        if self.detail is None or not self.detail.checkpoints:
            return None
        key = self.query_one("#ckpt-table").current_key()
        return next((c for c in self.detail.checkpoints if str(c.path) == key), self.detail.checkpoints[0])

    def _on_published(self) -> bool:
        return self.query_one("#ckpt-tabs", TabbedContent).active == "tab-published"

    def _current_detail(self):
        """The loaded detail of the selected run, or None with a notification saying why."""
        run = self._selected_run()
        if run is None:
            self.notify("select a run first", severity="warning")
            return None
        if self.detail is None or self.detail.run.path != run.path:
            self.notify("still reading this run; try again in a moment", severity="warning")
            return None
        return self.detail

    # ------------------------------------------------------------------ compare

    def action_mark(self) -> None:
        """Mark or unmark the selected run for comparison."""
        run = self._selected_run()
        if run is None:
            return
        key = str(run.path)
        self.marked.symmetric_difference_update({key})
        self._show_runs()

    def action_compare(self) -> None:
        """Compare the marked runs (two or more)."""
        runs = [r for r in self.runs if str(r.path) in self.marked]
        if len(runs) < 2:
            self.notify("mark two or more runs with space first", severity="warning")
            return
        self._compare_worker(runs)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False, description="Comparing runs")
    def _compare_worker(self, runs: list) -> None:
        from forgellm_tui.core.runs import compare_runs

        self.post_message(CompareLoaded(compare_runs(runs)))

    def on_compare_loaded(self, event: CompareLoaded) -> None:
        self.query_one("#compare-table").show(event.rows)
        self.query_one("#compare-plot").show_compare([(r.name, r.val) for r in event.rows])
        self.query_one("#ckpt-tabs", TabbedContent).active = "tab-compare"

    # ------------------------------------------------------------------ export

    def action_export_metrics(self) -> None:
        """Write the selected run's metrics (and evaluations) as CSV and Markdown into ``RUN/export/``."""
        run = self._selected_run()
        if run is None:
            self.notify("select a run first", severity="warning")
            return
        self._export_worker(run.path)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False, description="Exporting metrics")
    def _export_worker(self, run_dir: Path) -> None:
        from forgellm_tui.core.runs import write_exports

        try:
            files = write_exports(run_dir)
        except (ForgeError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"export failed: {exc}", severity="error", timeout=10)
            return
        names = ", ".join(path.name for path in files)
        self.app.call_from_thread(self.notify, f"exported {names} to {files[0].parent}", timeout=10)

    # ------------------------------------------------------------------ publish

    def action_publish(self) -> None:
        """Ask which checkpoint and name, then fuse it in a thread worker."""
        if any(w.group == "publish" and not w.is_finished for w in self.app.workers):
            self.notify("already publishing; wait for it to finish", severity="warning")
            return
        detail = self._current_detail()
        if detail is None:
            return
        if not detail.checkpoints:
            self.notify("this run has no complete checkpoint to publish", severity="error")
            return
        if detail.base_model is None:
            self.notify(next((p for p in detail.problems if "base model" in p), "base model not found"),
                        severity="error", timeout=8)
            return
        choices = []
        for c in detail.checkpoints:
            val = "—" if c.validation_loss is None else f"{c.validation_loss:.4f}"
            label = f"best/ · it {c.iteration} · val {val}" if c.label == "best" else \
                f"it {c.iteration} · val {val}" + (f" · recommended #{c.rank}" if c.rank else "")
            choices.append((label, "best" if c.label == "best" else str(c.iteration), c.iteration))
        chosen = self._selected_checkpoint()
        selected = "best" if chosen is None or chosen.label == "best" else str(chosen.iteration)
        dialog = PublishDialog(detail.run.name, choices, self.settings.published_dir, selected,
                               quantized=_is_quantized(detail.base_model), base_model=detail.base_model)
        run_dir = detail.run.path
        self.app.push_screen(dialog, lambda req: req and self._start_publish(run_dir, req))

    def _start_publish(self, run_dir: Path, request: PublishRequest) -> None:
        self.query_one("#publish-progress", JobProgress).start(
            "Publishing", f"{request.name}: checkpoint {request.checkpoint}")
        self._publish_worker(run_dir, request)

    @work(thread=True, group="publish", exit_on_error=False, description="Publishing a model")
    def _publish_worker(self, run_dir: Path, request: PublishRequest) -> None:
        from forgellm_tui.core.export import publish_gguf, quant_settings, quantize
        from forgellm_tui.core.publish import publish

        from ..dialogs.publish import APP_EVAL_ROWS

        def line(text: str) -> None:
            self.post_message(PublishProgress(text))

        try:
            if request.fmt == "mlx-q":
                qs = quant_settings(request.bits, request.group_size, request.mode)
                result = quantize(run_dir, self.settings, qs, name=request.name, checkpoint=request.checkpoint,
                                  limit=APP_EVAL_ROWS, dequantize=request.dequantize,
                                  progress=lambda f, m: self.post_message(PublishProgress(m, f)))
            else:
                how = publish_gguf if request.fmt == "gguf" else publish
                result = how(run_dir, self.settings.published_dir, checkpoint=request.checkpoint,
                             name=request.name, dequantize=request.dequantize, settings=self.settings,
                             progress=line)
        except ForgeError as exc:
            self.post_message(PublishFinished(error=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - unexpected: said in one line, and the bar stops
            self.post_message(PublishFinished(error=error_line(exc)))
            return
        self.post_message(PublishFinished(result=result))

    def on_publish_progress(self, event: PublishProgress) -> None:
        if event.message:
            done = 0 if event.fraction is None else round(100 * event.fraction)
            self.query_one("#publish-progress", JobProgress).advance(done, 0 if event.fraction is None else 100,
                                                                     event.message)

    def on_publish_finished(self, event: PublishFinished) -> None:
        self.query_one("#publish-progress", JobProgress).stop()
        if event.error:
            self.notify(event.error, title="Publish failed", severity="error", timeout=10)
            return
        r = event.result
        if hasattr(r, "section"):  # quantized: say what it cost
            from forgellm_tui.core.export import summary

            self.notify(f"{r.name}: {summary(r.section)}", title="Published", timeout=10)
        else:
            self.notify(f"{r.name}: checkpoint {r.checkpoint_label} (iteration {r.checkpoint_iteration})"
                        + (f"\n{len(r.warnings)} warning(s): see its README" if r.warnings else ""),
                        title="Published")
        self.action_refresh()

    # ------------------------------------------------------------------ evaluate

    def _busy(self) -> bool:
        """A publish or an evaluation holds the progress row."""
        return any(w.group in ("publish", "eval") and not w.is_finished for w in self.app.workers)

    def action_evaluate(self) -> None:
        """Measure the selected checkpoint (and the base model) on the run's test split, in a thread worker."""
        if self._busy():
            self.notify("a publish or an evaluation is running; wait for it to finish", severity="warning")
            return
        detail = self._current_detail()
        if detail is None:
            return
        ckpt = self._selected_checkpoint()
        if ckpt is None:
            self.notify("this run has no complete checkpoint to evaluate", severity="error")
            return
        which = "best" if ckpt.label == "best" else str(ckpt.iteration)
        self.query_one("#publish-progress", JobProgress).start("Evaluating", f"checkpoint {ckpt.label} (esc stops)")
        self._eval_worker(detail.run.path, which, ckpt.label)
        self.refresh_bindings()  # "Stop eval" (esc) in the footer

    @work(thread=True, group="eval", exit_on_error=False, description="Evaluating a checkpoint")
    def _eval_worker(self, run_dir: Path, which: str, label: str) -> None:
        from textual.worker import get_current_worker

        from forgellm_tui.core.evaluate import EvalCancelled, EvalRequest, evaluate

        worker = get_current_worker()
        folder = self.settings.workspace / "tasks"  # the workspace's multiple-choice task files are scored too
        tasks = tuple(sorted(folder.glob("*.jsonl"))) if folder.is_dir() else ()
        try:
            evaluate(EvalRequest(run_dir, checkpoint=which, tasks=tasks), self.settings,
                     progress=lambda done, total, what: self.post_message(EvalProgress(done, total, what)),
                     cancel=worker.cancelled_event)
        except EvalCancelled:
            self.post_message(EvalFinished(str(run_dir), label, cancelled=True))
            return
        except ForgeError as exc:
            self.post_message(EvalFinished(str(run_dir), label, error=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - unexpected: said in one line, and the bar stops
            self.post_message(EvalFinished(str(run_dir), label, error=error_line(exc)))
            return
        self.post_message(EvalFinished(str(run_dir), label, cancelled=worker.is_cancelled))

    def action_cancel_eval(self) -> None:
        """Stop the evaluation; nothing is written."""
        for worker in self.app.workers:
            if worker.group == "eval" and not worker.is_finished:
                worker.cancel()
        self.query_one("#publish-progress", JobProgress).advance(0, 0, "stopping…")

    def on_eval_progress(self, event: EvalProgress) -> None:
        self.query_one("#publish-progress", JobProgress).advance(event.done, event.total, event.detail)

    def on_eval_finished(self, event: EvalFinished) -> None:
        self.query_one("#publish-progress", JobProgress).stop()
        self.call_after_refresh(self.refresh_bindings)  # the worker is finished by then: esc leaves the footer
        if event.error:
            self.notify(event.error, title="Not evaluated", severity="error", timeout=10)
        elif event.cancelled:
            self.notify(f"evaluation of checkpoint {event.label} stopped: nothing written")
        else:
            self.notify(f"checkpoint {event.label}: see ppl, Δ% and acc in the table", title="Evaluated")
        self.action_refresh()

    # ------------------------------------------------------------------ chat, resume, commands

    async def action_chat(self) -> None:
        """Open the selected checkpoint (base + adapter) or published model on the Chat screen."""
        if self._on_published():
            key = self.query_one("#published-table").current_key()
            if key is None:
                self.notify("nothing published yet", severity="warning")
                return
            message = OpenInChat(key, None)
        else:
            detail = self._current_detail()
            if detail is None:
                return
            ckpt = self._selected_checkpoint()
            if ckpt is None or detail.base_model is None:
                why = "this run has no complete checkpoint" if ckpt is None else \
                    next((p for p in detail.problems if "base model" in p), "base model not found")
                self.notify(why, severity="error", timeout=8)
                return
            message = OpenInChat(str(detail.base_model), str(ckpt.path))
        await self.app.switch_mode("chat")
        self.app.screen.post_message(message)

    async def action_resume(self) -> None:
        """Continue the selected run on the Training screen from its newest checkpoint (from 0 when it has none)."""
        detail = self._current_detail()
        if detail is None:
            return
        if detail.run.is_active:
            self.notify(f"{detail.run.name} is still {detail.run.status}", severity="warning")
            return
        if not [c for c in detail.checkpoints if c.label != "best"]:
            self.notify("no checkpoint yet: the run starts again from iteration 0 with its config")
        await self.app.switch_mode("training")
        self.app.screen.post_message(ResumeRun(str(detail.run.path)))

    def action_commands(self) -> None:
        """Show the shell commands that reproduce, resume or publish the selected run."""
        from forgellm_tui.core.runs import headless_commands

        run = self._selected_run()
        if run is None:
            self.notify("select a run first", severity="warning")
            return
        ckpt = self._selected_checkpoint() if self.detail is not None and self.detail.run.path == run.path else None
        which = "best" if ckpt is None or ckpt.label == "best" else str(ckpt.iteration)
        self.app.push_screen(CommandsDialog(f"Headless commands for {run.name}",
                                            headless_commands(run, self.settings.workspace, which)))

    # ------------------------------------------------------------------ delete

    def action_delete(self) -> None:
        """Delete what has the focus: a checkpoint, a published model, or else the selected run."""
        focused = self.focused.id if self.focused is not None else None
        if focused == "published-table" or (focused != "ckpt-table" and self._on_published()):
            key = self.query_one("#published-table").current_key()
            if key is None:
                return
            from forgellm_tui.core.runs import delete_published

            self._confirm_delete(f"Delete the published model {Path(key).name}?",
                                 lambda: delete_published(key, self.settings.published_dir), Path(key).name)
            return
        detail = self._current_detail()
        if detail is None:
            return
        run = detail.run
        if focused == "ckpt-table":
            ckpt = self._selected_checkpoint()
            if ckpt is None:
                return
            if ckpt.protected:
                self.notify(f"cannot delete: {ckpt.protected}", severity="error", timeout=8)
                return
            from forgellm_tui.core.runs import delete_checkpoint

            self._confirm_delete(f"Delete checkpoint {ckpt.label} (iteration {ckpt.iteration}) of {run.name}?",
                                 lambda: delete_checkpoint(run.path, ckpt.iteration),
                                 f"checkpoint {ckpt.label} of {run.name}")
            return
        if run.is_active:
            self.notify(f"cannot delete {run.name}: it is still training", severity="error")
            return
        from forgellm_tui.core.runs import delete_run

        self._confirm_delete(f"Delete the run {run.name} with its {len(detail.checkpoints)} checkpoint folder(s)?\n"
                             f"{run.path}", lambda: delete_run(run.path), f"run {run.name}")

    def _confirm_delete(self, question: str, fn, what: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._delete_worker(fn, what)

        self.app.push_screen(ConfirmDialog("Delete?", question, yes="Delete", no="Keep", default=False), answered)

    @work(thread=True, group="delete", exit_on_error=False, description="Deleting")
    def _delete_worker(self, fn, what: str) -> None:
        try:
            fn()
        except ForgeError as exc:
            self.post_message(DeleteFinished(what, str(exc)))
            return
        self.post_message(DeleteFinished(what))

    def on_delete_finished(self, event: DeleteFinished) -> None:
        if event.error:
            self.notify(event.error, title="Not deleted", severity="error", timeout=8)
        else:
            self.notify(f"deleted {event.what}")
        self.action_refresh()


def _is_quantized(model: Path) -> bool:
    import json

    try:
        config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("quantization") or config.get("quantization_config"))
