"""The Training screen's setup view: the config list, the form with inline errors, the resolved
preview, the command line, the estimate, and saving the form as a new config."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.widgets import Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ..config_draft import ConfigDraft, split_errors
from forgellm_tui.format import rel_path
from ..training_messages import EstimateReady
from . import workers


class SetupController:
    """The config the Training screen's form edits, checked as it is typed, with its estimate."""

    def __init__(self, screen) -> None:
        self.screen = screen
        self.draft: ConfigDraft | None = None
        """The selected config file and its values (the form edits a copy)."""
        self.estimate_lines: list[str] = []
        """The estimate shown under the form (without its ``estimate:`` status lines)."""
        self.estimate_key = ""
        """The resolved config the shown (or coming) estimate belongs to."""
        self.estimate_timer = None
        self.wanted_config: str | None = None
        """A config to highlight when the list is read again (one just saved)."""

    def show_configs(self, paths: list[Path]) -> None:
        options = self.screen.query_one("#config-list", OptionList)
        previous = options.highlighted_option.id if options.highlighted_option else None
        previous, self.wanted_config = self.wanted_config or previous, None
        options.clear_options()
        options.add_options([Option(p.name, id=str(p)) for p in paths])
        if not paths:
            self.load_draft(None)
            return
        ids = [str(p) for p in paths]
        options.highlighted = ids.index(previous) if previous in ids else 0
        if previous in ids and self.draft is None:
            self.load_draft(Path(previous))

    def config_highlighted(self, path: Path) -> None:
        """The config list's cursor moved to ``path``."""
        if self.draft is None or self.draft.path != path:
            self.load_draft(path)

    def load_draft(self, path: Path | None) -> None:
        """Read a config into the form (None: a new, empty config)."""
        self.draft = ConfigDraft(path, self.screen.settings.workspace)
        self.screen.form.load(self.draft)
        title = f"{path.name} (resolved)" if path else "no configs in configs/: fill in the form"
        self.screen.query_one("#preview-title", Label).update(title)
        self.validate_form()
        self.screen.show_line()

    def form_edited(self) -> None:
        self.validate_form(debounce=True)

    def validate_form(self, debounce: bool = False) -> dict[str, str]:
        """Check the form now: inline errors, resolved preview, command line; schedule the estimate."""
        if self.draft is None:
            return {}
        texts = self.screen.form.texts()
        errors = self.draft.errors(texts)
        inline, rest = split_errors(errors)
        self.screen.form.show_errors({k: self.tidy(m) for k, m in inline.items()})
        self.screen.query_one("#form-errors", Static).update("\n".join(f"✗ {self.tidy(line)}" for line in rest))
        preview = self.screen.query_one("#config-preview", TextArea)
        command = self.screen.query_one("#command-line", Static)
        if errors:
            preview.load_text("# fix these first:\n" + "\n".join(f"# {k}: {m}" for k, m in errors.items()))
            command.update("")
            # forget the last estimate: fixing the value back to it must estimate (and say so) again
            self.estimate_key = ""
            if self.estimate_timer is not None:
                self.estimate_timer.stop()
                self.estimate_timer = None
            self.show_estimate(["estimate: fix the highlighted values first"])
            return errors
        cfg = self.draft.build(texts)
        preview.load_text(cfg.to_yaml(comments=False))
        try:
            command.update("$ " + self.draft.command_line(texts))
        except Exception as exc:  # noqa: BLE001 - a new config has no command line until it is saved
            command.update(f"$ ({exc})")
        key = cfg.to_yaml(comments=False)
        if key != self.estimate_key:
            self.estimate_key = key
            self.show_estimate(["estimate: counting…"])
            if self.estimate_timer is not None:
                self.estimate_timer.stop()
                self.estimate_timer = None
            if debounce:  # while typing: estimate once the user pauses
                later = partial(workers.start, self.screen, "estimate", key, cfg)
                self.estimate_timer = self.screen.set_timer(0.4, later)
            else:
                workers.start(self.screen, "estimate", key, cfg)
        return errors

    def valid_config(self):
        """The form's config, or None after showing why it is invalid (nothing is started)."""
        from forgellm_tui.core.errors import ForgeError

        if self.draft is None:
            self.screen.notify("no config selected", severity="error")
            return None
        errors = self.validate_form()
        if not errors:
            try:
                return self.draft.build(self.screen.form.texts())
            except ForgeError as exc:
                errors = {"(file)": str(exc)}
        self.screen.show_view("setup")
        first = self.screen.form.first_invalid()
        if first is not None:
            self.screen.form.focus_field(first)
        key, message = next(iter(errors.items()))
        self.screen.notify(f"not started: {key}: {message}" if key != "(file)" else f"not started: {message}",
                    severity="error", timeout=8)
        return None

    def tidy(self, text: str) -> str:
        """A message with workspace paths shown relative to it (and the home folder as ``~``)."""
        import os

        workspace = str(self.screen.settings.workspace)
        text = text.replace(workspace + os.sep, "").replace(workspace, ".")
        home = os.path.expanduser("~")
        return text.replace(home + os.sep, "~" + os.sep) if home not in ("", "/") else text

    def estimate_ready(self, event: EstimateReady) -> None:
        if event.key != self.estimate_key:
            return
        if event.error:
            inline, _rest = split_errors(event.fields)
            if inline:
                self.screen.form.show_errors({k: self.tidy(m) for k, m in inline.items()})
                self.show_estimate([f"✗ cannot estimate: {', '.join(inline)} (see above)"])
            else:
                self.show_estimate([f"✗ {self.tidy(event.error)}"])
        else:
            self.show_estimate(event.lines)

    def show_estimate(self, lines: list[str]) -> None:
        self.estimate_lines = [line for line in lines if not line.startswith("estimate:")]
        self.screen.query_one("#estimate", Static).update("\n".join(lines))

    def save_config(self) -> None:
        """Save the form as a new config in configs/."""
        from ..dialogs.ask import AskDialog

        if self.valid_config() is None:
            return
        configs = self.screen.settings.configs_dir
        base = self.draft.path.stem + "-copy" if self.draft.path else "my-config"

        def check(name: str) -> str | None:
            from forgellm_tui.core.names import name_problem

            if (problem := name_problem(name)) is not None:
                return f"{problem} — type a file name such as my-run (saved as configs/my-run.yaml)"
            target = configs / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
            return f"{target.name} exists — choose another name" if target.exists() else None

        def answered(name: str | None) -> None:
            from forgellm_tui.core.errors import ForgeError

            if not name:
                return
            try:
                path = self.draft.save_as(configs / name, self.screen.form.texts())
            except ForgeError as exc:
                self.screen.notify(str(exc), severity="error", timeout=8)
                return
            self.screen.notify(f"saved {rel_path(path, self.screen.settings.workspace)}")
            self.draft = None
            self.load_draft(path)
            self.wanted_config = str(path)  # highlighted when the list is read again
            self.screen.action_refresh()

        self.screen.app.push_screen(AskDialog("Save as a new config", f"Name of the new file in {configs.name}/:",
                                       base, check), answered)
