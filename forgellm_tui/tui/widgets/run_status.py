"""The run's status panel: state, progress, losses, throughput, memory, checkpoint, warnings."""

from __future__ import annotations


from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from forgellm_tui.format import duration, human_count, middle
from ..run_view import RunView

STATE_STYLE = {"running": "bold green", "starting": "green", "paused": "bold yellow", "stopping": "yellow",
               "finished": "bold cyan", "stopped": "bold yellow", "failed": "bold red", "interrupted": "bold red",
               "idle": "dim"}


def loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def lines(text: Text, width: int) -> int:
    """Lines a text takes when wrapped to ``width`` (about: words may wrap a little earlier)."""
    if text.no_wrap or width <= 0:
        return 1
    return max(1, -(-text.cell_len // width))


class RunStatus(Static):
    """Call :meth:`show` with a :class:`RunView`; the screen calls it a few times a second at most."""

    DEFAULT_CSS = "RunStatus { height: auto; padding: 0 1; }"

    _height = -1

    def show(self, view: RunView | None, now: float | None = None, pending: str = "") -> None:
        """Render ``view``; ``pending`` is a request not yet confirmed by the engine (``pausing…``).

        The layout is redone only when the number of lines changes (most updates change numbers only).
        """
        width = self.content_size.width
        group = self.render_view(view, now, pending, width)
        height = sum(len(part.rows) if isinstance(part, Table) else lines(part, width) for part in group.renderables)
        self.update(group, layout=height != self._height)
        self._height = height
        title = "status · followed" if view is not None and view.source == "folder" else "status"
        if self.border_title != title:
            self.border_title = title

    @staticmethod
    def render_view(view: RunView | None, now: float | None = None, pending: str = "", width: int = 0) -> Group:
        """Rows whose values fit the panel's 25 columns at 80×24 (a clock or a full sentence did not)."""
        if view is None:
            return Group(Text("no run", style="bold dim"),
                         Text("start one (ctrl+r), start it in the background (ctrl+d), or follow a run "
                              "folder (f)", style="dim"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True, min_width=6)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        state = Text(view.state, style=STATE_STYLE.get(view.state, ""))
        if pending:  # its first word: the toolbar above says the rest ("stopping: saving a checkpoint…")
            state.append(f" · {pending.split()[0].rstrip(':…')}…", style="yellow")
        grid.add_row("state", state)
        total = view.max_iterations
        progress = f"{view.iteration:,}" + (f" / {total:,} ({100 * view.iteration / total:.0f}%)" if total else "")
        grid.add_row("iter", progress)
        grid.add_row("epoch", "—" if view.epoch is None else f"{view.epoch:.3f}")
        eta = view.eta(now)
        grid.add_row("time", duration(view.elapsed(now)) + ("" if eta is None else f" · ETA {duration(eta)}"))
        best_train = f" · best {view.best_train:.4f}" if view.best_train is not None else ""
        grid.add_row("train", loss(view.last_train) + best_train)
        best_val = (f" · best {view.best_val:.4f}@{view.best_val_iteration}" if view.best_val is not None else "")
        grid.add_row("val", loss(view.last_val) + best_val)
        ppl = view.perplexity()
        grid.add_row("ppl", "—" if ppl is None else f"{ppl[1]:,.2f} ({ppl[0]})")
        tps = "—" if view.tokens_per_second is None else f"{view.tokens_per_second:,.0f}"
        ranks = view.world_size  # distributed run: tok/s is the sum over ranks
        grid.add_row("tok/s", f"{tps} · {human_count(view.trained_tokens)} trained")
        if ranks > 1:
            per_rank = "—" if view.tokens_per_second is None else f"{view.tokens_per_second / ranks:,.0f}"
            grid.add_row("ranks", f"{per_rank}/rank ({ranks} ranks)")
        grid.add_row("memory", "—" if view.memory_gb is None else f"{view.memory_gb:.2f} GB peak")
        grid.add_row("grad", "—" if view.gradient_norm is None else f"{view.gradient_norm:.4f} norm")
        grid.add_row("ckpt", view.last_checkpoint or "—")
        name = middle(view.name, width) if width > 0 else view.name
        parts = [Text(name or "(starting)", style="bold", no_wrap=True, overflow="ellipsis"), grid]
        if view.startup and view.is_active:  # wrapped: its rate and time left matter as much as its start
            parts.append(Text(f"⋯ {view.startup}", style="cyan"))
        if view.overfitting:
            parts.append(Text(f"⚠ overfitting: {view.overfitting}", style="bold yellow"))
        if view.notice:
            parts.append(Text(f"⚠ {view.notice}", style="yellow"))
        if view.error:
            parts.append(Text(f"✗ {view.error}", style="bold red"))
        elif view.reason and not view.is_active:
            parts.append(Text(view.reason, style="dim"))
        return Group(*parts)
