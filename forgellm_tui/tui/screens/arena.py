"""Arena: two models answer the same prompt side by side, then you vote left, right or tie.

Opened from the Chat screen (ctrl+g); the chat's system prompt and sampling settings apply to both
sides. The two targets stay loaded in one two-model cache, and the replies are generated one after
the other on the single MLX thread. Votes are appended to ``WORKSPACE/arena.jsonl`` (``core.arena``);
the tally of the pair on screen is shown above the replies. Below 100 columns the panes stack.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.reactive import reactive
from textual.widgets import Static

from forgellm_tui.core.errors import ForgeError
from forgellm_tui.format import rel_path
from ..dialogs.model_picker import ModelPickerDialog
from ..fields import is_typing
from ..widgets.chat_log import ChatLog
from ..widgets.prompt_input import PromptInput
from .arena_workers import ArenaRoundDone, ArenaWorkers, SideFinished, SideStarted, TargetLoaded
from .base import ForgeScreen
from .chat_workers import ReplyBuffer

SIDES = ("left", "right")
WIDE = 100
"""From this many columns the two panes sit side by side; narrower, they stack."""
FLUSH_HZ = 15
VOTE_HINT = "vote: l left is better · r right is better · t tie"


class ArenaScreen(ArenaWorkers, ForgeScreen):
    """Pick two targets, send one prompt to both, vote."""

    SCREEN_TITLE = "Arena"
    OPEN_ACTION = "arena"
    """The action, on the Chat screen and here, that opens the arena and then runs an arena action."""
    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop the replies being generated."),
        Binding("escape", "leave_field", "Leave field",
                tooltip="Leave the prompt (then l, r, t and the other keys work)."),
        Binding("escape", "back", "Back", tooltip="Close the arena and go back to the chat."),
        Binding("ctrl+l", "pick_left", "Left", tooltip="Choose the model on the left."),
        Binding("ctrl+r", "pick_right", "Right", tooltip="Choose the model on the right."),
        Binding("l", "vote_left", "Left wins", tooltip="Vote: the left reply is better."),
        Binding("r", "vote_right", "Right wins", tooltip="Vote: the right reply is better."),
        Binding("t", "vote_tie", "Tie", tooltip="Vote: both replies are as good."),
        Binding("ctrl+s", "export", "Export", tooltip="Export this arena's rounds as Markdown and JSON into chats/."),
        Binding("i", "focus_prompt", "Type", show=False, tooltip="Move to the prompt to type a message."),
    ]

    generating = reactive(False, bindings=True)
    voting = reactive(False, bindings=True)
    """Both replies are in and the round has no vote yet."""

    def __init__(self, refs: list, system_prompt: str = "", sampling=None, instruct: bool | None = None,
                 then: str = "") -> None:
        super().__init__()
        self._then = then
        """An action to run once mounted (a command palette entry for an arena key)."""
        self.refs = list(refs)
        self._chat_settings = (system_prompt, sampling, instruct)
        self.cache = None
        """A ``core.chat.ModelCache`` holding both targets."""
        self.sessions: dict = {}
        self.targets: dict = {side: None for side in SIDES}
        """``ModelRef`` of each side once loaded."""
        self.round = None
        """The ``core.arena.ArenaRecord`` of the round on screen."""
        self.rounds: list = []
        """Rounds of this visit, for export."""
        self.votes: list = []
        """Every vote in ``arena.jsonl``."""
        self.round_stopped = False
        self._buffers: dict[str, ReplyBuffer] = {}
        self._replies: dict = {}
        """The AssistantMessage of each side in the round on screen."""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="arena-targets", classes="toolbar")
        yield Static("", id="arena-tally")
        with Container(id="arena-panes"):
            for side in SIDES:
                yield ChatLog(id=f"arena-{side}", classes="pane")
        yield PromptInput(id="arena-prompt")

    def on_mount(self) -> None:
        from forgellm_tui.core.chat import ChatSession, ModelCache

        system_prompt, sampling, instruct = self._chat_settings
        self.cache = ModelCache(settings=self.settings, capacity=2)
        self.sessions = {side: ChatSession(self.cache, system_prompt=system_prompt, sampling=sampling,
                                           instruct=instruct) for side in SIDES}
        self._flush_timer = self.set_interval(1 / FLUSH_HZ, self._flush, pause=True)
        self._read_votes()
        self._show_targets()
        for side in SIDES:
            self.query_one(f"#arena-{side}", ChatLog).show_empty(
                Text(f"ctrl+{side[0]} chooses the {side} model", style="dim"))
        self._layout(self.size.width)
        self.query_one(PromptInput).focus()
        if self._then:
            self.call_after_refresh(self.run_action, self._then)

    def on_resize(self, event) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.query_one("#arena-panes").set_class(width < WIDE, "-stacked")

    def on_unmount(self) -> None:
        """Stop and free both models on the MLX thread (MLX work left in another thread can crash at exit)."""
        self.round_stopped = True
        for session in self.sessions.values():
            session.stop()
        if self.cache is not None and self.cache.models:
            self.cache.unload()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "stop":
            return self.generating
        if action == "leave_field":
            return (not self.generating and is_typing(self.focused)) or False
        if action == "back":
            return not self.generating and not is_typing(self.focused)
        if action in ("vote_left", "vote_right", "vote_tie"):
            return self.voting and not is_typing(self.focused)
        if action in ("pick_left", "pick_right"):
            return not self.generating
        return super().check_action(action, parameters)

    # ------------------------------------------------------------------ targets

    def action_pick_left(self) -> None:
        self._pick("left")

    def action_pick_right(self) -> None:
        self._pick("right")

    def _pick(self, side: str) -> None:
        """Open the model picker for ``side``; the choice is loaded in a worker."""
        if not self.refs:
            self.notify("no models found — put one in models/base, or train a run first", title="Arena",
                        severity="warning", markup=False)

        def chosen(target) -> None:
            if target is not None:
                self._set_status(side, "loading…")
                self._load_target_worker(side, target)

        self.app.push_screen(ModelPickerDialog(self.refs, self.settings.workspace, self.targets[side],
                                               title=f"Arena, {side} side: choose a model"), chosen)

    def on_target_loaded(self, event: TargetLoaded) -> None:
        if event.error:
            self._set_status(event.side, "")
            self.notify(event.error, title="Model not loaded", severity="error", timeout=12, markup=False)
            return
        self.targets[event.side] = event.ref
        self._set_status(event.side, "ready")
        self._show_targets()
        if all(self.targets.values()) and self.targets["left"].path == self.targets["right"].path:
            self.notify(f"both sides are {event.ref.name}: the replies differ only by sampling", title="Arena",
                        markup=False)

    # ------------------------------------------------------------------ a round

    @on(PromptInput.Submitted, "#arena-prompt")
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if await self._begin(event.text):
            event.prompt.clear()

    async def _begin(self, prompt: str) -> bool:
        """Send ``prompt`` to both sides; False with a notice when the round cannot start."""
        missing = [side for side in SIDES if self.targets[side] is None]
        problem = ("a round is running — esc stops it" if self.generating else
                   "type a prompt first" if not prompt.strip() else
                   f"choose the {' and '.join(missing)} model first (ctrl+{missing[0][0]})" if missing else "")
        if problem:
            self.notify(problem, title="Arena", severity="warning", markup=False)
            return False
        from forgellm_tui.core.arena import ArenaRecord
        from forgellm_tui.core.chat import model_info

        first = self.sessions["left"]
        self.round = ArenaRecord(left=model_info(self.targets["left"]), right=model_info(self.targets["right"]),
                                 prompt=prompt, replies={}, system_prompt=first.system_prompt,
                                 sampling=first.sampling)
        self._buffers = {side: ReplyBuffer() for side in SIDES}
        for side in SIDES:
            log = self.query_one(f"#arena-{side}", ChatLog)
            await log.show_history([])
            log.add_user(prompt)
            self._replies[side] = log.start_reply(self.sessions[side].reply_starts_in_think)
            self._replies[side].set_status("waiting for the other side…" if side == "right" else "")
        self.round_stopped, self.voting, self.generating = False, False, True
        for side in SIDES:
            self.query_one(f"#arena-{side}", ChatLog).border_subtitle = ""
        self._show_tally()
        self._flush_timer.resume()
        self._round_worker(prompt, self._buffers)
        return True

    def on_side_started(self, event: SideStarted) -> None:
        self._set_status(event.side, "reading the prompt… esc stops")

    async def _flush(self) -> None:
        """Draw what the worker streamed since the last flush (about 15 times a second)."""
        for side, buffer in self._buffers.items():
            reply = self._replies.get(side)
            if reply is None or not reply.is_mounted:
                continue
            if buffer.drain():
                await reply.show(buffer.text)
                reply.set_status(f"generating… {buffer.tokens} tokens · esc stops")

    async def on_side_finished(self, event: SideFinished) -> None:
        await self._flush()
        reply = self._replies.get(event.side)
        if event.error:
            self.notify(event.error, title=f"{event.side.capitalize()} reply failed", severity="error",
                        timeout=12, markup=False)
        if reply is not None and reply.is_mounted:
            line = event.stats.line() if event.stats is not None and event.reply else (event.error or "no reply")
            await reply.finish(event.reply or None, line)
        self.round.replies[event.side] = event.reply
        self.round.stats[event.side] = event.stats

    async def on_arena_round_done(self, _event: ArenaRoundDone) -> None:
        self._flush_timer.pause()
        self.generating = False
        for side in SIDES:
            if side not in self.round.replies:  # never started: the round was stopped before it
                self.round.replies[side] = ""
                self._replies[side].set_status("stopped before it started")
        self.rounds.append(self.round)
        if all(self.round.replies[side].strip() for side in SIDES):
            self.voting = True
            self.query_one("#arena-left", ChatLog).focus()  # off the prompt: l, r and t vote
        else:
            self.notify("a side did not reply — send the prompt again to vote", title="Arena", markup=False)
        self._show_tally()

    def action_stop(self) -> None:
        """Stop the side replying now; the other side is not started."""
        self.round_stopped = True
        for side in SIDES:
            self.sessions[side].stop()

    # ------------------------------------------------------------------ votes

    def action_vote_left(self) -> None:
        self._vote("left")

    def action_vote_right(self) -> None:
        self._vote("right")

    def action_vote_tie(self) -> None:
        self._vote("tie")

    def _vote(self, vote: str) -> None:
        from forgellm_tui.core.arena import append_vote

        if not self.voting or self.round is None:
            return
        try:
            append_vote(self.settings.workspace, self.round, vote)
        except (ForgeError, OSError) as exc:
            self.notify(str(exc), title="Vote not saved", severity="error", markup=False)
            return
        self.voting = False
        self.votes.append(self.round)
        winner = {"left": self.round.left.get("name"), "right": self.round.right.get("name")}.get(vote, "tie")
        self.notify(f"{vote}: {winner} · saved to arena.jsonl", title="Vote", markup=False)
        self._show_tally()
        self.query_one(PromptInput).focus()

    def _read_votes(self) -> None:
        from forgellm_tui.core.arena import load_votes

        try:
            self.votes = load_votes(self.settings.workspace)
        except ForgeError as exc:  # the tally is left out; new votes are still appended
            self.votes = []
            self.notify(str(exc), title="Arena tally", severity="warning", timeout=12, markup=False)

    # ------------------------------------------------------------------ other keys

    def action_back(self) -> None:
        """Close the arena (its models are freed); the chat is as it was."""
        self.dismiss()

    async def action_arena(self, then: str = "") -> None:
        """Already open: run ``then`` (the command palette opens the arena, then runs one of its keys)."""
        if then:
            await self.run_action(then)

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    def action_export(self) -> None:
        """Write this visit's rounds as Markdown and JSON into ``<workspace>/chats/``."""
        from forgellm_tui.core.arena import export_rounds

        if not self.rounds:
            self.notify("nothing to export yet — send a prompt first", severity="warning")
            return
        stem = self.settings.workspace / "chats" / datetime.now().strftime("arena-%Y%m%d-%H%M%S")
        try:
            md, _ = export_rounds(self.rounds, stem)
        except (ForgeError, OSError) as exc:
            self.notify(str(exc), title="Export failed", severity="error", markup=False)
            return
        self.notify(f"{rel_path(md, self.settings.workspace)} and .json", title="Arena exported", markup=False)

    # ------------------------------------------------------------------ drawing

    def _set_status(self, side: str, line: str) -> None:
        """``line`` under the reply of ``side`` during a round, else on its pane's border."""
        reply = self._replies.get(side)
        if self.generating and reply is not None:  # its line exists before the reply is mounted
            reply.set_status(line)
        else:
            self.query_one(f"#arena-{side}", ChatLog).border_subtitle = line

    def _show_targets(self) -> None:
        names = [self.targets[side].name if self.targets[side] else f"ctrl+{side[0]} chooses" for side in SIDES]
        same = all(self.targets.values()) and self.targets["left"].path == self.targets["right"].path
        self.query_one("#arena-targets", Static).update(Text.assemble(
            ("left ", "dim"), (names[0], "bold"), ("  vs  ", "dim"), ("right ", "dim"), (names[1], "bold"),
            ("  (same model)" if same else "", "yellow")))
        for side in SIDES:
            self.query_one(f"#arena-{side}", ChatLog).border_title = f"{side} · {names[SIDES.index(side)]}"
        self._show_tally()

    def _show_tally(self) -> None:
        from forgellm_tui.core.arena import tally_of
        from forgellm_tui.core.chat import model_info

        line = self.query_one("#arena-tally", Static)
        if self.voting:
            line.update(Text(VOTE_HINT, style="bold"))
            return
        if not all(self.targets.values()):
            line.update(Text("choose a model for each side, then type a prompt", style="dim"))
            return
        pair = tally_of(self.votes, *(model_info(self.targets[side]) for side in SIDES))
        line.update(Text(f"tally {pair.line()}" if pair else "no votes for this pair yet", style="dim"))
