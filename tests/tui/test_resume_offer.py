"""Which stopped runs the app offers to resume on its next start: decided by run.json's ``stop_cause``,
never by the wording of ``stop_reason``; runs written before ``stop_cause`` existed are read by core."""

from __future__ import annotations

import json
import shutil

from forgellm_tui.core.training.engine import train
from forgellm_tui.settings import Settings
from forgellm_tui.tui.hangup import hangup_runs
from train_helpers import make_cfg, run_json

RECORDS = {  # folder -> (stop_reason, stop_cause or absent for an old run.json), offered?
    "cause-hangup": ("lost the connection", "hangup", True),
    "cause-quit": ("bye", "quit", True),
    "cause-closed": ("the app went away", "interrupted", True),
    "cause-user-text-sighup": ("terminal closed (SIGHUP)", "user", False),
    "cause-signal": ("stopped by SIGTERM", "signal", False),
    "old-sighup": ("stopped by SIGHUP", None, True),
    "old-quit": ("stopped by user (quit the app)", None, True),
    "old-closed": ("the app closed (resume continues from its checkpoint)", None, True),
    "old-sigterm": ("stopped by SIGTERM", None, False),
    "old-user": ("stopped by user", None, False),
}


def test_runs_are_offered_by_their_stop_cause(workspace):
    done = train(make_cfg(workspace, name="source", max_iterations=2, save_every=2))
    for name, (reason, cause, _offered) in RECORDS.items():
        folder = done.run_dir.parent / name
        shutil.copytree(done.run_dir, folder)
        info = run_json(folder)
        info.update(name=name, status="stopped", stop_reason=reason, stop_cause=cause)
        if cause is None:
            del info["stop_cause"]  # as written before the field existed
        (folder / "run.json").write_text(json.dumps(info))
    offered = {run.name for run in hangup_runs(Settings.load(workspace, env={}))}
    assert offered == {name for name, (_r, _c, yes) in RECORDS.items() if yes}
