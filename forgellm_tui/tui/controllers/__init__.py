"""Plain objects (no Textual base class) that hold a screen's state and logic; the screen composes the
widgets, binds the keys and forwards keys and messages to them.

- ``training``: :class:`~.training.TrainingController`, the run the Training screen shows and controls
  (run view, control object, event feed, run id, following a folder).
- ``run_panes``: what a run's events and files do to the charts, the log pane and the notifications.
- ``quitting``: what quitting, a closed app or a lost terminal does to a run.
- ``setup``: :class:`~.setup.SetupController`, the Training screen's config form, preview and estimate.
- ``workers``: the bodies of the Training screen's thread workers (they only post messages).
"""
