"""Settings a run changes while it trains (live changes): which keys, their validation, and applying them.

A change is checked like the config (the same key names, aliases, types and ranges), applied by the
loop between two steps, recorded in ``run.json`` (``changes: [{iteration, key, old, new, time}]``)
and ``log.jsonl``, and emitted as ``SettingChanged``. ``lr_scale`` is not a config key: it multiplies
the learning-rate schedule from the next step on and lives in the optimizer state (so checkpoints
keep it). Every checkpoint records the live values and how many changes it includes; a resume takes
those values and replays the later changes at the iterations they were made, so it trains exactly
like the run that was never interrupted.
"""

from __future__ import annotations

from dataclasses import fields, replace

from forgellm_tui.core import events as ev
from forgellm_tui.core.config import FIELDS, ConfigFieldError, from_dict, normalize
from forgellm_tui.core.runs import requests, utc_now
from forgellm_tui.settings import RUN_FOLDERS

LR_SCALE = "lr_scale"
#: what each live key changes; a config key listed here that the config does not have is left out,
#: so a new live key is one line
LIVE = {
    LR_SCALE: "multiplies the learning-rate schedule from the next step on",
    "max_iterations": "the run's length (not below the current iteration)",
    "steps_per_report": "steps between metrics records",
    "steps_per_eval": "steps between validations",
    "save_every": "steps between checkpoints",
    "sample_every": "steps between generated samples",
    "early_stopping_patience": "evaluations without improvement before an early stop",
    "min_loss_improvement": "smallest validation-loss decrease that counts as improvement",
    "overfitting_threshold": "how far above its best the validation loss may go (0.3 = 30%)",
}
#: live keys the early-stopping tracker holds (key -> its attribute)
TRACKER = {"early_stopping_patience": "patience", "min_loss_improvement": "min_improvement",
           "overfitting_threshold": "threshold"}
LR_SCALE_MAX = 100.0


def live_keys() -> tuple[str, ...]:
    """The keys a running run accepts, in display order."""
    return tuple(k for k in LIVE if k == LR_SCALE or k in FIELDS)


def check_changes(values: dict) -> dict:
    """``{canonical key: value}`` of requested changes; ConfigFieldError (one line per key) when refused."""
    errors, checked = {}, {}
    for key, raw in values.items():
        try:
            canonical, value = _check_one(str(key), raw)
        except ConfigFieldError as exc:
            errors.update(exc.errors)
            continue
        checked[canonical] = value
    if errors:
        raise ConfigFieldError(errors, hint=f"keys that change while a run trains: {', '.join(live_keys())}")
    return checked


def _check_one(key: str, raw) -> tuple[str, object]:
    if key == LR_SCALE:
        value = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if value is None or not 0 < value <= LR_SCALE_MAX:
            raise ConfigFieldError({key: f"must be a number > 0 and ≤ {LR_SCALE_MAX:g} (got {raw!r})"})
        return key, float(value)
    norm = normalize({key: raw})
    if norm.errors:
        raise ConfigFieldError(norm.errors)
    canonical = next(iter(norm.values), key)
    if canonical not in live_keys():
        raise ConfigFieldError({key: "cannot change while the run trains (the model, the data or the optimizer "
                                     "depend on it; stop the run, then resume it with --set)"})
    try:
        cfg = from_dict({key: raw}, require=())
    except ConfigFieldError as exc:
        raise ConfigFieldError({key: next(iter(exc.errors.values()))}) from None
    return canonical, getattr(cfg, canonical)


def current_values(cfg, lr_scale: float, max_iterations: int) -> dict:
    """Every live key's value now (what the app's dialog shows)."""
    out = {}
    for key in live_keys():
        out[key] = lr_scale if key == LR_SCALE else max_iterations if key == "max_iterations" else getattr(cfg, key)
    return out


def with_value(cfg, key: str, value):
    """``cfg`` with ``key`` set (the workspace and source kept: they are not init fields' values)."""
    names = {f.name for f in fields(cfg)}
    return replace(cfg, **{key: value}, workspace=cfg.workspace, source=cfg.source) if key in names else cfg


class LiveChanges:
    """Applies live changes to a training ``Session`` between steps and records them."""

    def __init__(self, session) -> None:
        self.session = session
        self.replay: list[dict] = []
        """Changes made after the checkpoint this session started from, applied again at their iterations."""

    # ------------------------------------------------------------------ the learning-rate scale
    def install_scale(self) -> None:
        """Make the optimizer's learning rate ``schedule(step) x state["lr_scale"]``.

        The scale is part of the optimizer state, so the compiled step reads it as an input (changing
        it needs no new compile) and checkpoints save and restore it with the moments.
        """
        import mlx.core as mx

        opt = self.session.opt
        if "learning_rate" not in opt.state:  # an optimizer that sets its own step size (adafactor)
            return
        if LR_SCALE not in opt.state:
            opt.state[LR_SCALE] = mx.array(1.0, dtype=mx.float32)
        base = opt._schedulers.get("learning_rate")
        if base is None:  # a constant rate: kept in the state too (a compiled step takes no other arrays)
            opt.state["lr_base"] = opt.state["learning_rate"]
            base = lambda step: opt.state["lr_base"]  # noqa: E731
        opt._schedulers["learning_rate"] = lambda step: base(step) * opt.state[LR_SCALE]

    def scale(self) -> float:
        value = self.session.opt.state.get(LR_SCALE)
        return float(value.item()) if value is not None else 1.0

    # ------------------------------------------------------------------ resume
    def restore(self, state: dict) -> None:
        """Take the checkpoint's live values; queue the changes recorded after it for replay."""
        ctx = self.session.ctx
        explicit = _resume_keys(ctx)
        for key, value in (state.get("live") or {}).items():
            if key in live_keys() and key not in explicit and key not in (LR_SCALE, "max_iterations"):
                self._set(key, value)
        recorded = list(ctx.run.info.get("changes") or [])
        done = int(state.get("changes_applied", 0))
        ctx.run.info["changes"] = recorded[:done]
        self.replay = [c for c in recorded[done:] if c.get("key") not in explicit]

    # ------------------------------------------------------------------ between steps
    def apply_pending(self) -> None:
        """Replays due now, then the changes asked for (answering the folder's requests)."""
        session = self.session
        while self.replay and int(self.replay[0].get("iteration", 0)) <= session.iteration:
            change = self.replay.pop(0)
            self.apply(change["key"], change["new"], replayed=True)
        control = getattr(session.ctx.control, "local", session.ctx.control)  # rank 0's own control
        for request_id, values in control.take_changes():
            ok, message = self.apply_requested(values)
            if request_id:
                requests.answer(session.ctx.run.path, request_id, ok, message, session.iteration)

    def apply_requested(self, values: dict) -> tuple[bool, str]:
        ctx = self.session.ctx
        try:
            checked = check_changes(values)
            if ctx.world.size > 1 and set(checked) - {"max_iterations"}:
                raise ConfigFieldError({next(iter(set(checked) - {"max_iterations"})): "a run on several machines "
                                        "changes only its length (and pauses, stops, saves) while it trains"})
        except ConfigFieldError as exc:
            ctx.log("warning", f"change refused: {exc}")
            return False, str(exc)
        if ctx.world.size > 1 and checked:  # every rank takes the new length at the same step
            ctx.control.local.set_max_iterations(checked["max_iterations"])
            return True, f"max_iterations -> {checked['max_iterations']} from the next step"
        done = [self.apply(key, value) for key, value in checked.items()]
        return True, "; ".join(done) or "nothing to change"

    def apply(self, key: str, new, replayed: bool = False) -> str:
        """Apply one checked change now and record it; its log line."""
        session, ctx = self.session, self.session.ctx
        old = self.value(key)
        if key == "max_iterations":
            new = max(int(new), session.iteration)
            if new != ctx.max_iterations:
                ctx.set_max_iterations(new)
        else:
            self._set(key, new)
        record = {"iteration": session.iteration, "key": key, "old": old, "new": new, "time": utc_now()}
        ctx.run.info.setdefault("changes", []).append(record)
        ctx.run.update()
        line = f"{key} {old!r} -> {new!r} at iteration {session.iteration}" + (" (replayed)" if replayed else "")
        ctx.log("info", f"changed {line}")
        ctx.emit(ev.SettingChanged(session.iteration, key, old, new))
        return line

    def value(self, key: str):
        session = self.session
        if key == LR_SCALE:
            return self.scale()
        if key == "max_iterations":
            return session.ctx.max_iterations
        return getattr(session.ctx.cfg, key)

    def _set(self, key: str, value) -> None:
        session = self.session
        if key == LR_SCALE:
            import mlx.core as mx

            if LR_SCALE in session.opt.state:
                session.opt.state[LR_SCALE] = mx.array(float(value), dtype=mx.float32)
            return
        session.ctx.cfg = with_value(session.ctx.cfg, key, value)
        if key in TRACKER:
            setattr(session.tracker, TRACKER[key], value)
        sampler = getattr(session, "sampler", None)
        if sampler is not None:  # it keeps its interval (sample_every, or steps_per_eval when unset)
            sampler.every = session.ctx.cfg.effective_sample_every

    def state(self) -> dict:
        """What a checkpoint records: the live values and how many recorded changes they include."""
        ctx = self.session.ctx
        values = current_values(ctx.cfg, self.scale(), ctx.max_iterations)
        return {"live": values, "changes_applied": len(ctx.run.info.get("changes") or [])}


def _resume_keys(ctx) -> set[str]:
    """Keys the resume itself sets to a value other than the run's config.yaml (they win over the checkpoint's)."""
    if not ctx.resuming:
        return set()
    if ctx.resume_keys is None:
        from forgellm_tui.core.training.preflight import config_changes
        from forgellm_tui.core.training.prepare import saved_config

        ctx.resume_keys = set(config_changes(saved_config(ctx.run.path, ctx.cfg), ctx.cfg))
    return ctx.resume_keys


def folder_values(run_dir) -> dict:
    """The live keys' values of a run folder: its ``config.yaml`` with the changes ``run.json`` records."""
    from forgellm_tui.core.runs import read_run_config, read_run_json

    raw = read_run_config(run_dir)
    values = {}
    for key in live_keys():
        values[key] = 1.0 if key == LR_SCALE else raw.get(key, FIELDS[key].default)
    for change in (read_run_json(run_dir) or {}).get("changes") or []:
        if change.get("key") in values:
            values[change["key"]] = change.get("new")
    return values


def ask(run_dir, action: str, values: dict | None = None, timeout: float = 30.0) -> dict:
    """Ask the loop training ``run_dir`` (another process) and wait for its answer ``{"ok", "message"}``.

    Changes are checked here first (ConfigFieldError, nothing sent). ForgeError when the run is not
    training now or does not answer within ``timeout`` seconds (the request is then withdrawn).
    """
    from pathlib import Path

    from forgellm_tui.core.errors import ForgeError
    from forgellm_tui.core.runs import process_alive, read_run_json

    run_dir = Path(run_dir)
    checked = check_changes(values or {}) if action == "set" else {}
    info = read_run_json(run_dir)
    if info is None:
        raise ForgeError("not a run folder (no run.json)", path=run_dir,
                         hint=f"give a run folder under {RUN_FOLDERS}")
    status, pid = info.get("status"), info.get("pid")
    if status not in ("running", "paused") or process_alive(pid, info.get("host")) is False:
        raise ForgeError(f"the run is not training now (status {status})", path=run_dir,
                         hint="change settings of an ended run by resuming it with --set KEY=VALUE")
    request_id = requests.send(run_dir, action, checked, timeout)
    result = requests.wait_answer(run_dir, request_id, timeout)
    if result is None:
        raise ForgeError(f"the run did not answer within {timeout:g} s (the request was withdrawn)", path=run_dir,
                         hint="it may be in a long step or validation: try again with a longer --timeout")
    return result
