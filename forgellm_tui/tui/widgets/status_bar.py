"""The one-line status bar at the top of every screen: workspace, screen, device and BLAS."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static


class StatusBar(Widget):
    """Shows ``ForgeLLM · <screen> · <workspace>`` on the left; the notification mode
    (``FORGELLM_NOTIFY``: ``notify osc``, ``notify bell`` or ``notify off``) and the device on the right.

    The device and BLAS notice come from the app's ``device_label`` / ``notice`` reactives, which
    are filled in by a thread worker after the first frame.
    """

    DEFAULT_CSS = """
    StatusBar { height: auto; dock: top; }
    StatusBar #status-line { height: 1; background: $panel; color: $text; }
    StatusBar #status-notice { height: 1; background: $warning 30%; color: $text; display: none; }
    StatusBar.-with-notice #status-notice { display: block; }
    """

    device = reactive("device: …")
    """Device, BLAS and kernel set, e.g. ``CPU · OpenBLAS (SkylakeX)``."""
    notice = reactive("")
    """A one-line hint (e.g. how to install OpenBLAS); hidden when empty."""

    def __init__(self, title: str, workspace: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Static(id="status-line")
        yield Static(id="status-notice")

    def on_mount(self) -> None:
        self.watch(self.app, "device_label", self._set_device, init=True)
        self.watch(self.app, "notice", self._set_notice, init=True)

    def _set_device(self, value: str) -> None:
        self.device = value

    def _set_notice(self, value: str) -> None:
        self.notice = value or ""

    def watch_device(self) -> None:
        self._render_line()

    def watch_notice(self, value: str) -> None:
        self.set_class(bool(value), "-with-notice")
        self.query_one("#status-notice", Static).update(Text(f" ⚠ {value}" if value else ""))

    def on_resize(self) -> None:
        self._render_line()

    def _render_line(self) -> None:
        if not self.is_mounted:
            return
        width = max(self.size.width, 20)
        mode = getattr(getattr(self.app, "settings", None), "notify", None)
        right = Text.assemble(f" notify {mode} ·" if mode else "", (f" {self.device} ", "bold"))
        left = Text.assemble((" ForgeLLM ", "bold reverse"), (f" {self.title} ", "bold"), "· ")
        room = width - left.cell_len - right.cell_len - 1
        path = self.workspace
        if room < len(path):
            path = "…" + path[-max(room - 1, 1):] if room > 2 else ""
        left.append(path, style="dim")
        gap = max(width - left.cell_len - right.cell_len, 1)
        line = left + Text(" " * gap) + right
        line.truncate(width)
        self.query_one("#status-line", Static).update(line)
