"""Textual's Footer without its leak: every recompose left the old keys alive (textual#6666).

Each ``FooterKey`` is ``data_bind``-ed to the Footer's ``compact``; the binding is a watcher stored on
the Footer, and Textual only drops watchers of removed widgets when the watched value changes, which
``compact`` never does. The Footer recomposes whenever the focus moves to a widget with other keys,
so a session kept every key ever shown (about 26 widgets with their styles per focus change: the
heap grew by ~5,000 objects a second while keys were pressed, and full garbage collections grew to
300 ms, stalling the screen). After each recompose this drops the watchers of removed keys.
"""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not exported by textual.widgets; Footer.compose uses it

KEEP = ("help", "quit")
"""Actions whose keys are always shown (``?`` lists every key, ``q`` quits)."""


def key_width(key_display: str, description: str) -> int:
    """Columns of one key in the compact footer: ``^r Start`` plus the one-column gap after it."""
    return len(key_display) + (1 + len(description) if description else 0) + 1


def fit_keys(keys: list[tuple[str, str, str]], width: int, current_mode: str = "") -> list[int]:
    """Indices of ``keys`` (``(key_display, description, action)``, in display order) that fit ``width``.

    The least important go first: the key of the screen already shown, then the other screens' keys
    (from the last), then the screen's own keys from the last (the first are its main actions).
    ``?`` and ``q`` always stay.
    """
    shown = list(range(len(keys)))
    modes = [i for i in shown if keys[i][2].startswith("switch_mode")]
    own = [i for i in modes if current_mode and f"'{current_mode}'" in keys[i][2]]
    others = [i for i in shown if i not in modes and keys[i][2] not in KEEP]
    order = own + [i for i in reversed(modes) if i not in own] + list(reversed(others))
    total = sum(key_width(k, d) for k, d, _ in keys)
    for index in order:
        if total <= width:
            break
        shown.remove(index)
        total -= key_width(keys[index][0], keys[index][1])
    return shown


class ForgeFooter(Footer):
    """A :class:`~textual.widgets.Footer` that keeps ``?`` and ``q`` at any width (dropping the least
    important keys instead; ``?`` lists them all), forgets the keys it removed, and rebuilds its keys
    only when the keys to show changed (Textual rebuilds them on every focus change: ~26 widgets
    mounted, the largest part of switching the Training screen's views)."""

    _shown: tuple | None = None

    def bindings_changed(self, screen) -> None:
        shown = self._signature(screen)
        if shown == self._shown and self.children:
            self._bindings_ready = True
            return
        self._shown = shown
        super().bindings_changed(screen)

    def on_resize(self) -> None:
        shown = self._signature(self.screen)
        if shown != self._shown and self._bindings_ready:
            self._shown = shown
            self.call_after_refresh(self.recompose)

    def _signature(self, screen) -> tuple:
        """What :meth:`compose` draws from: the shown bindings, enabled or not, with their tooltips,
        and the width they must fit."""
        try:
            bindings = screen.active_bindings.values()
        except Exception:  # noqa: BLE001 - no screen yet: always rebuild
            return ()
        return (self.size.width,) + tuple((binding.key, binding.action, binding.description, enabled, tooltip)
                                          for _node, binding, enabled, tooltip in bindings if binding.show)

    def compose(self):
        """One key per action (Textual's grouping is not used here), as many as fit the width."""
        if not self._bindings_ready:
            return
        shown: dict[str, tuple] = {}
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (binding, enabled, tooltip)
        entries = list(shown.values())
        keys = [(self.app.get_key_display(b), b.description, b.action) for b, _e, _t in entries]
        mode = getattr(self.app, "current_mode", "") or ""
        width = self.size.width or self.app.size.width
        for index in fit_keys(keys, width, mode):
            binding, enabled, tooltip = entries[index]
            yield FooterKey(binding.key, keys[index][0], binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)

    async def recompose(self) -> None:
        await super().recompose()
        self.prune_watchers()

    def prune_watchers(self) -> None:
        """Drop watchers whose widget is gone (what Textual does only when the value changes)."""
        for entries in getattr(self, "__watchers", {}).values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not getattr(node, "_closing", False) and getattr(node, "is_attached", True)]
