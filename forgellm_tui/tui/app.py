"""ForgeApp: four screens (Datasets, Training, Chat, Checkpoints) as Textual modes.

Nothing imported here imports MLX, mlx_lm or transformers: the first frame must come fast.
The device and BLAS are read in a thread worker after that frame (``device_info`` imports
``mlx.core``); domain work runs in thread workers owned by the screens.
"""

from __future__ import annotations

from typing import Iterable

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..settings import Settings
from .commands import ForgeCommands
from .dialogs import ConfirmDialog, ErrorDialog
from .fields import FIELD_BINDINGS, is_typing
from forgellm_tui.format import error_text
from .heap import IdleCollector, freeze_heap
from .messages import DeviceReady, OpenInChat, ResumeRun
from .screens import MODE_FACTORIES
from .training_messages import HangupRuns

WORK_GROUPS = ("prepare", "training", "publish", "generation")
"""Worker groups whose work would be lost by quitting; ``q`` asks first while one runs."""
RUN_GROUPS = ("training", "follow")
"""Worker groups of a training run (trained here or followed): its screen decides what quitting does."""


class ForgeApp(App[int]):
    """The ForgeLLM terminal app for one workspace."""

    TITLE = "ForgeLLM"
    CSS_PATH = "forge.tcss"
    MODES = dict(MODE_FACTORIES)  # each screen's module is imported when the screen is first shown
    DEFAULT_MODE = "datasets"
    COMMANDS = App.COMMANDS | {ForgeCommands}
    BINDINGS = [
        Binding("1", "switch_mode('datasets')", "Data", tooltip="Go to the Datasets screen.", id="mode-datasets"),
        Binding("2", "switch_mode('training')", "Train", tooltip="Go to the Training screen.", id="mode-training"),
        Binding("3", "switch_mode('chat')", "Chat", tooltip="Go to the Chat screen.", id="mode-chat"),
        Binding("4", "switch_mode('checkpoints')", "Ckpts", tooltip="Go to the Checkpoints screen.",
                id="mode-checkpoints"),
        Binding("question_mark", "help", "Keys", tooltip="List every key of every screen.", id="help"),
        Binding("q", "quit", "Quit", tooltip="Quit (asks first while work is running).", id="quit"),
        *FIELD_BINDINGS,
    ]

    device_label = reactive("device: …")
    """``CPU · OpenBLAS (SkylakeX)`` (device, BLAS, kernel set) once known; shown in every status bar."""
    notice = reactive("")
    """A one-line hint shown under the status bar (e.g. how to get OpenBLAS); empty for none."""

    def __init__(self, settings: Settings, *, detect_device: bool = True) -> None:
        super().__init__()
        self.settings = settings
        """Workspace folders."""
        self._detect_device = detect_device
        self.collector = IdleCollector()
        """Garbage collection between key presses, not during them."""

    def on_mount(self) -> None:
        from .hangup import HangupGuard

        self.theme = "textual-dark"
        if self._detect_device:
            self.call_after_refresh(self._device_worker)
        self.hangup_guard = HangupGuard(self)
        self.hangup_guard.install()
        self.call_after_refresh(self._offer_resume)
        self.call_after_refresh(freeze_heap)
        self.collector.start()
        self.set_interval(IdleCollector.TICK_S, self.collector.tick)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):  # keys reach the app first: full collections wait for a quiet moment
            self.collector.key_pressed()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.hangup_guard.uninstall()
        self.collector.stop()

    # ------------------------------------------------------------------ device

    def _device_worker(self) -> None:
        self.run_worker(self._read_device, thread=True, group="device", exit_on_error=False,
                        description="Reading device")

    def _read_device(self) -> None:
        from forgellm_tui.core.runtime import backend as runtime

        hint = runtime.blas_hint()
        try:
            label = runtime.device_info().label()
        except Exception as exc:  # MLX missing or broken: say so instead of failing
            label = f"device unknown ({type(exc).__name__})"
        self.post_message(DeviceReady(label, hint))

    def on_device_ready(self, event: DeviceReady) -> None:
        self.device_label = event.label
        self.notice = event.hint or ""

    # ------------------------------------------------------------------ runs stopped by a lost terminal

    def _offer_resume(self) -> None:
        from .hangup import hangup_runs

        self.run_worker(lambda: self.post_message(HangupRuns(hangup_runs(self.settings))), thread=True,
                        group="resume-offer", exit_on_error=False, description="Looking for interrupted runs")

    def on_hangup_runs(self, event: HangupRuns) -> None:
        """Offer to resume the runs stopped when the terminal went away or the app quit (newest first)."""
        from .dialogs.resume import ResumeDialog
        from .hangup import dismiss

        if not event.runs:
            return

        async def answered(answer: tuple | None) -> None:
            if answer is None:
                return
            choice, run_dir = answer
            if choice == "resume":
                await self.switch_mode("training")
                self.screen.post_message(ResumeRun(str(run_dir)))
            elif choice == "never":
                for run in event.runs:
                    dismiss(run.path)

        self.push_screen(ResumeDialog(event.runs), answered)

    # ------------------------------------------------------------------ across screens

    async def on_open_in_chat(self, event: OpenInChat) -> None:
        """"Chat with this" posted to the app (or not handled on the way up): the Chat screen loads it."""
        from .screens.chat import ChatScreen

        if self.current_mode != "chat":
            await self.switch_mode("chat")
        chat = next((s for s in reversed(self.screen_stack) if isinstance(s, ChatScreen)), None)
        if chat is not None:
            chat.open_in_chat(event.model_path, event.adapter_path)

    # ------------------------------------------------------------------ help, errors, quit

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "quit_from_field":
            return is_typing(self.screen.focused) or False
        return True

    async def action_quit_from_field(self) -> None:
        await self.action_quit()

    def action_help(self) -> None:
        """Show every key of every screen."""
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Every worker's unexpected error ends up here, once, as a dialog (harlequin's pattern)."""
        if event.state == WorkerState.ERROR and event.worker.group != "device":
            self.show_error(f"{event.worker.description or event.worker.group} failed", event.worker.error)

    def show_error(self, title: str, error: BaseException | str | None) -> None:
        """Show one error in a dialog; the app stays usable."""
        message = error if isinstance(error, str) else error_text(error)
        self.push_screen(ErrorDialog(title, message))

    def busy_workers(self) -> list:
        """Workers doing work that quitting would lose."""
        live = (WorkerState.PENDING, WorkerState.RUNNING)
        return [w for w in self.workers if w.group in WORK_GROUPS and w.state in live]

    async def action_quit(self) -> None:
        """Quit; while work is running ask first, then cancel it. A screen that owns a training run
        (``confirm_quit``) asks itself: stop and save, or keep a background run going."""
        busy = self.busy_workers()
        live = (WorkerState.PENDING, WorkerState.RUNNING)
        owner = next((w.node for w in self.workers if w.state in live and w.group in RUN_GROUPS
                      and callable(getattr(w.node, "confirm_quit", None))), None)
        if owner is not None and owner.confirm_quit(sorted({w.description or w.group for w in busy
                                                            if w.node is not owner})):
            return
        if not busy:
            self.exit(0)
            return
        names = ", ".join(sorted({w.description or w.group for w in busy}))

        def answered(yes: bool | None) -> None:
            if yes:
                for worker in busy:
                    worker.cancel()
                self.exit(0)

        self.push_screen(ConfirmDialog("Quit?", f"Still running: {names}.\nQuit and stop it?",
                                       yes="Quit", no="Stay"), answered)

    # ------------------------------------------------------------------ command palette

    async def run_in_mode(self, mode: str, action: str) -> None:
        """Switch to ``mode`` and run ``action`` on its screen (used by the palette)."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        await self.run_action(action, self.screen)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys"):  # ours: quit asks first; "?" shows all keys
                yield command
