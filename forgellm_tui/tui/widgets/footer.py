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


class ForgeFooter(Footer):
    """A :class:`~textual.widgets.Footer` that forgets the keys it removed, and rebuilds its keys only
    when the keys to show changed (Textual rebuilds them on every focus change: ~26 widgets mounted,
    the largest part of switching the Training screen's views)."""

    _shown: tuple | None = None

    def bindings_changed(self, screen) -> None:
        shown = self._signature(screen)
        if shown == self._shown and self.children:
            self._bindings_ready = True
            return
        self._shown = shown
        super().bindings_changed(screen)

    @staticmethod
    def _signature(screen) -> tuple:
        """What ``Footer.compose`` draws from: the shown bindings, enabled or not, with their tooltips."""
        try:
            bindings = screen.active_bindings.values()
        except Exception:  # noqa: BLE001 - no screen yet: always rebuild
            return ()
        return tuple((binding.key, binding.action, binding.description, enabled, tooltip)
                     for _node, binding, enabled, tooltip in bindings if binding.show)

    async def recompose(self) -> None:
        await super().recompose()
        self.prune_watchers()

    def prune_watchers(self) -> None:
        """Drop watchers whose widget is gone (what Textual does only when the value changes)."""
        for entries in getattr(self, "__watchers", {}).values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not getattr(node, "_closing", False) and getattr(node, "is_attached", True)]
