"""The step loop of one training session (from scratch or from a checkpoint).

A compiled step as in ``mlx_lm.tuner.trainer`` (value_and_grad, gradient accumulation, one
optimizer update per iteration) plus what mlx-lm's ``train()`` lacks: gradient norm, control between
steps, best checkpoint, early stopping, and resumable state. One *iteration* is one optimizer update
(``batch_size x grad_accumulation_steps`` sequences). Dropout randomness is reseeded from
``(seed, iteration, micro-batch)`` and the data order is a function of ``(seed, epoch)``, so a run
resumed from a checkpoint continues exactly like the uninterrupted run.

Distributed (``ctx.world.size > 1``): each rank trains on rows ``rank::size`` of every batch; its
gradient is weighted by its share of the batch's loss tokens and averaged (``average_gradients``),
so the update equals the single-process one; losses and token counts are summed over ranks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from forgellm_tui.core.runs import checkpoints as ck
from forgellm_tui.core.runs import stop_cause
from forgellm_tui.core import events as ev
from forgellm_tui.core.training.early_stopping import BestTracker
from forgellm_tui.core.training.live import LiveChanges
from forgellm_tui.core.runs import utc_now
from forgellm_tui.core.training.objective import make_objective, masked_loss  # noqa: F401 - the package face's
from forgellm_tui.core.training.report import Window as _Window
from forgellm_tui.core.training.report import last_learning_rate as _lr
from forgellm_tui.core.training.watchdog import Watchdog
from forgellm_tui.core.training.setup import (apply_fine_tune, build_optimizer, enable_grad_checkpoint, load_adapter_weights,
                             load_model, trainable_weights)


def rng_seed(seed: int, iteration: int, micro: int) -> int:
    return (seed * 1_000_003 + iteration * 1_009 + micro) % (2**63)


@dataclass
class Outcome:
    status: str            # finished / stopped
    reason: str
    iteration: int
    cause: str             # recorded as run.json's stop_cause


class Session:
    """Model, optimizer and data position; ``run()`` trains until finished, stopped or early-stopped."""

    def __init__(self, ctx, checkpoint: Path | None):
        self.ctx = ctx
        state = ck.read_state(checkpoint) if checkpoint else {}
        self.objective = make_objective(ctx.cfg, ctx.train_data, ctx.valid_data)
        self._build(checkpoint)
        self.live = LiveChanges(self)
        self.live.install_scale()  # before the step is compiled: the scale is one of its inputs
        self._restore(state)
        self.live.restore(state)
        self._compile_step()
        self.model.train()

    def _build(self, checkpoint: Path | None) -> None:
        """The model with its trainable layers and weights, and the optimizer (with its state on a resume)."""
        ctx, cfg = self.ctx, self.ctx.cfg
        self.model, tokenizer = load_model(ctx.plan.model_path, cfg)
        self.sampler = None
        if cfg.sample_prompts and ctx.world.is_main:  # only rank 0 writes the run folder
            from forgellm_tui.core.training.sampling import Sampler

            self.sampler = Sampler(cfg, tokenizer, ctx.run.path)
        self.trainable, self.total = apply_fine_tune(self.model, cfg)
        if cfg.grad_checkpoint:
            enable_grad_checkpoint(self.model)
        # DPO's reference is the starting model: fresh adapters (LoRA's B is zero) or the initial full weights
        from_initial = checkpoint is None and ctx.initial_weights is not None and cfg.fine_tune_type == "full"
        if not from_initial:
            self.objective.prepare(self, checkpoint)
        if checkpoint is not None:
            load_adapter_weights(self.model, ck.load_weights(checkpoint), checkpoint / ck.ADAPTERS)
        elif ctx.initial_weights is not None:
            load_adapter_weights(self.model, *ctx.initial_weights)
            if from_initial:
                self.objective.prepare(self, checkpoint)
        self.opt = build_optimizer(cfg, ctx.schedule_steps)
        self.opt.init(self.model.trainable_parameters())
        if checkpoint is not None:
            lr = self.opt.learning_rate if not self.opt._schedulers else None
            self.opt.state = ck.load_optimizer_state(checkpoint)
            if lr is not None:  # a constant rate is kept in the state: the config's (maybe changed) one wins
                self.opt.learning_rate = lr

    def _restore(self, state: dict) -> None:
        """Iteration, counters, data position, best-loss tracker and report window from a checkpoint's state."""
        ctx, cfg = self.ctx, self.ctx.cfg
        self.iteration = int(state.get("iteration", 0))
        self.trained_tokens = int(state.get("trained_tokens", 0))
        self.elapsed = float(state.get("elapsed_seconds", 0.0))
        pos = state.get("data") or {}
        index = int(pos.get("index", 0))
        if pos.get("batch_size") and pos["batch_size"] != cfg.batch_size:  # batch size changed (OOM recovery)
            index = index * int(pos["batch_size"]) // cfg.batch_size
        world = self.world = ctx.world
        shard = (world.rank, world.size)
        self.stream = self.objective.stream(int(pos.get("epoch", 0)), index, shard)
        self.val = self.objective.validation(shard)
        self.tracker = BestTracker(cfg.early_stopping_patience, cfg.min_loss_improvement, cfg.overfitting_threshold,
                                   cfg.effective_early_stopping)
        self.tracker.load(state.get("tracker"))
        self.watchdog = Watchdog(cfg.watchdog, cfg.watchdog_factor, cfg.watchdog_patience)
        self.watchdog.load(state.get("watchdog"))
        self.last_train_loss = state.get("training_loss")
        self.window = _Window()
        self.window.load(state.get("report_window"))
        self.last_val, self.last_val_iteration = None, -1
        self.step_metrics, self.val_metrics = {}, {}  # the objective's extra metrics (DPO, ORPO) of the last step
        self.eval_seconds = 0.0
        self.start_iteration = self.saved_at = self.iteration

    def _compile_step(self) -> None:
        """``self.step``: one compiled micro-step (loss and gradient; the update on the last micro-batch)."""
        import mlx.core as mx
        import mlx.nn as nn
        import mlx.optimizers as optim
        from mlx.nn.utils import average_gradients
        from mlx.utils import tree_map

        cfg, world = self.ctx.cfg, self.world
        accum, clip, model, opt = cfg.grad_accumulation_steps, cfg.max_grad_norm, self.model, self.opt
        loss_and_grad = nn.value_and_grad(model, self.objective.loss)
        self.state = [model.state, opt.state, mx.random.state]
        self.loss_and_grad = loss_and_grad

        @partial(mx.compile, inputs=self.state, outputs=self.state)
        def step(inputs, prev, do_update, scale):
            value, grad = loss_and_grad(model, *inputs)  # value: (loss, tokens, *metrics)
            if scale is not None:  # this rank's share of the batch's loss tokens x ranks
                grad = tree_map(lambda g: g * scale, grad)
            if prev is not None:
                grad = tree_map(lambda a, b: a + b, grad, prev)
            if not do_update:
                return value, mx.array(0.0), grad
            if world.size > 1:
                grad = average_gradients(grad, world.group)
            if accum > 1:
                grad = tree_map(lambda g: g / accum, grad)
            if clip:
                grad, norm = optim.clip_grad_norm(grad, clip)
            else:
                norm = mx.sqrt(sum(mx.sum(g.astype(mx.float32) ** 2) for g in _leaves(grad)))
            opt.update(model, grad)
            return value, norm, None

        self.step = step

    # ------------------------------------------------------------------ pieces
    def check_memory(self) -> int | None:
        """Raise ``MemoryError`` before the first step when the batch would not fit in memory.

        MLX on the CPU crashes (SIGSEGV) on a failed allocation instead of raising, so the need is
        measured on one and two rows of the longest sequence and compared with what the process may
        still use. Besides the pass itself a step holds the accumulated gradient and, during the
        optimizer update, new weights and moments next to the old ones (3x the trainable weights).
        """
        import mlx.core as mx

        from forgellm_tui.core.training.memory_guard import check_step_fits, measure_pass

        cfg, world = self.ctx.cfg, self.world
        mx.eval(self.model.parameters(), self.opt.state)
        weights = sum(v.nbytes for v in _leaves(self.model.trainable_parameters()))
        extra = weights * (3 + (1 if cfg.grad_accumulation_steps > 1 else 0))
        width = self.objective.widest()

        def measure(rows: int, tokens: int) -> int:  # rows of the batch (DPO, ORPO: pairs, two sequences each)
            return measure_pass(self.model, self.loss_and_grad, self.objective.probe_inputs(rows, tokens))

        rows = -(-cfg.batch_size // world.size)  # this rank's share of a batch
        return check_step_fits(measure, rows, width, extra)

    def train_step(self) -> tuple[float | None, int, float]:
        """One iteration (optimizer update). Returns (mean loss, loss-bearing tokens, gradient norm).

        The mean is over the micro-batches that have loss-bearing tokens; None when none has (a
        loss over zero tokens is undefined, not 0).
        """
        import mlx.core as mx

        cfg, accum, world, obj = self.ctx.cfg, self.ctx.cfg.grad_accumulation_steps, self.world, self.objective
        grad, losses, sizes, total_toks, norm, extras = None, [], [], 0, 0.0, []
        counts = [] if world.size > 1 else None  # what each global micro-batch's loss is averaged over
        for micro in range(accum):
            item = self.stream.next()
            if counts is not None:
                counts.append(obj.global_weight(self.stream))
                total_toks += self.stream.last_tokens
            seed = rng_seed(cfg.seed, self.iteration, micro)
            mx.random.seed((seed + 104_729 * world.rank) % (2**63) if world.size > 1 else seed)
            scale = weight = None
            if counts is not None:
                weight = obj.local_weight(item)
                scale = mx.array(weight * world.size / max(counts[micro], 1.0), dtype=mx.float32)
            value, gnorm, grad = self.step(obj.inputs(item), grad, micro == accum - 1, scale)
            mx.eval(self.state, value, gnorm, grad)
            loss, ntoks = value[0].item(), value[1].item()
            losses.append(loss * weight if counts is not None else loss)
            extras.append([m.item() * (weight if counts is not None else 1) for m in value[2:]])
            sizes.append(int(ntoks))
            norm = gnorm.item()
        if cfg.clear_cache_threshold and mx.get_cache_memory() > cfg.clear_cache_threshold:
            mx.clear_cache()
        if counts is not None:  # mean loss of each global micro-batch; rank 0's control requests ride along
            flat = [m for row in extras for m in row]
            sums = world.sum_floats(losses + flat + self.ctx.control.requests(self.ctx.max_iterations))
            self.ctx.control.absorb(sums[accum + len(flat):])
            losses = [s / max(c, 1.0) for s, c in zip(sums, counts)]
            k = len(obj.metric_names)
            extras = [[m / max(c, 1.0) for m in sums[accum + i * k:accum + (i + 1) * k]] for i, c in enumerate(counts)]
            sizes = counts
        else:
            total_toks = sum(sizes)
        counted = [loss for loss, n in zip(losses, sizes) if n > 0]
        self.step_metrics = {name: sum(row[i] for row in extras) / len(extras)
                             for i, name in enumerate(obj.metric_names)}
        return (sum(counted) / len(counted) if counted else None), total_toks, norm

    def evaluate(self) -> float | None:
        import mlx.core as mx

        self.val_metrics = {}
        if not self.val:
            return None
        self.model.eval()
        loss, self.val_metrics = self.objective.evaluate(self.model, self.val, self.world)
        self.model.train()
        return loss

    def state_dict(self, reason: str, validation_loss: float | None) -> dict:
        cfg = self.ctx.cfg
        return {"iteration": self.iteration, "max_iterations": self.ctx.max_iterations,
                "schedule_steps": self.ctx.schedule_steps, "data": self.stream.position(),
                "rng": {"scheme": "mx.random.seed(seed*1000003 + iteration*1009 + micro) before each micro-batch; "
                                  "data order numpy RandomState(seed, epoch)", "seed": cfg.seed},
                "trained_tokens": self.trained_tokens, "elapsed_seconds": self.elapsed,
                "training_loss": self.last_train_loss, "validation_loss": validation_loss,
                "tracker": self.tracker.state(), "watchdog": self.watchdog.state(), "report_window": self.window.state(), "batch_size": cfg.batch_size,
                "grad_accumulation_steps": cfg.grad_accumulation_steps, "shape": self.ctx.shape,
                "world_size": self.world.size, **self.live.state(),
                "reason": reason, "timestamp": utc_now()}

    def save(self, reason: str, validation_loss: float | None = None) -> Path:
        import mlx.core as mx
        from mlx.utils import tree_flatten

        ctx = self.ctx
        weights = trainable_weights(self.model)
        digests = self.world.check_in_sync(weights) if self.world.size > 1 else None
        if not self.world.is_main:  # only rank 0 writes
            self.saved_at = self.iteration
            return None
        opt_state = dict(tree_flatten(self.opt.state))
        mx.eval(weights, opt_state)
        state = self.state_dict(reason, validation_loss)
        if digests:
            state["rank_weights_sha256"] = digests
        path = ck.write_checkpoint(ctx.run.path, self.iteration, weights, opt_state, ctx.adapter_config, state)
        ck.publish_latest(ctx.run.path, path)
        self.saved_at = self.iteration
        ck.prune(ctx.run.path, ctx.cfg.max_checkpoints, protect=path)
        ctx.run.update(iteration=self.iteration, last_checkpoint=path.name)
        ctx.log("info", f"checkpoint {path.name} saved ({reason})"
                + (f", val {validation_loss:.4f}" if validation_loss is not None else ""))
        ctx.emit(ev.CheckpointSaved(self.iteration, path, reason, validation_loss))
        return path

    def save_best(self, loss: float, checkpoint: Path | None) -> None:
        ctx = self.ctx
        if not self.world.is_main:
            return
        weights = None if checkpoint else trainable_weights(self.model)
        path = ck.write_best(ctx.run.path, weights, ctx.adapter_config, self.state_dict("best", loss), checkpoint)
        accuracy = self.val_metrics.get("val_reward_accuracy")  # preference runs: what the loss means to people
        ctx.run.update(best_iteration=self.iteration, best_validation_loss=loss,
                       **({"best_val_reward_accuracy": accuracy} if accuracy is not None else {}))
        ctx.log("info", f"best/ is now iteration {self.iteration} (val {loss:.4f})")
        ctx.emit(ev.CheckpointSaved(self.iteration, path, "best", loss))

    # ------------------------------------------------------------------ the loop
    def run(self) -> Outcome:
        ctx, control = self.ctx, self.ctx.control
        window = self.window
        step_times: list[float] = []
        if self.objective.cancelled:  # stopped while the objective prepared (DPO's reference)
            return Outcome(ev.STOPPED, control.stop_reason, self.iteration, control.stop_cause)
        self.check_memory()
        if self.iteration == 0 and self.val:
            self._validate_and_record(window, step_times)
        if self.iteration == 0 and self.sampler is not None:
            self._sample()  # what the base model says, the start of the story
        while True:
            self._take_requests()
            if self.world.size > 1 and not control.take_fresh():
                control.sync(ctx.max_iterations)  # every rank takes rank 0's decisions
            new_max = control.take_max_iterations(ctx.max_iterations)
            if new_max != ctx.max_iterations:
                self.live.apply("max_iterations", new_max)
            if control.paused and not control.stop_requested:
                ctx.set_state(ev.PAUSED, self.iteration)
                ctx.log("info", f"paused at iteration {self.iteration}")
                while not control.wait_while_paused(0.2):
                    self._take_requests()  # a paused run still answers (resume, changes, stop)
                if not control.stop_requested:
                    ctx.log("info", f"resumed at iteration {self.iteration}")
                    ctx.set_state(ev.RUNNING, self.iteration)
                continue
            if control.stop_requested:
                ctx.log("info", f"stopping at iteration {self.iteration}: {control.stop_reason}")
                if self.iteration > self.start_iteration and self.saved_at != self.iteration:
                    self.save("stop", self._val_here())
                return Outcome(ev.STOPPED, control.stop_reason, self.iteration, control.stop_cause)
            if control.take_save_request():
                self.save("manual", self._val_here())
            if self.iteration >= ctx.max_iterations:
                return Outcome(ev.FINISHED, "reached max_iterations", self.iteration, stop_cause.FINISHED)
            if ctx.fault_hook is not None:
                ctx.fault_hook(self.iteration + 1)
            tic = time.perf_counter()
            loss, toks, norm = self.train_step()
            dt = time.perf_counter() - tic
            self.iteration += 1
            self.elapsed += dt
            self.trained_tokens += toks
            step_times.append(dt)
            window.add(loss, toks, dt, norm, self.step_metrics)
            if self.watchdog.step(self.iteration, loss, norm):
                return self._watchdog_stop()
            if loss is not None and not math.isfinite(loss):  # the watchdog is off
                raise FloatingPointError(f"training loss became {loss} at iteration {self.iteration} — lower "
                                         "learning_rate or set max_grad_norm")
            outcome = self._after_step(window, step_times)
            if outcome is not None:
                return outcome

    def _take_requests(self) -> None:
        """Rank 0 reads the run folder's request; then due replays and asked-for changes are applied."""
        if self.world.is_main:
            getattr(self.ctx.control, "local", self.ctx.control).read_requests(self.ctx.run.path)
        self.live.apply_pending()

    def _after_step(self, window: "_Window", step_times: list[float]) -> Outcome | None:
        cfg, it, ctx = self.ctx.cfg, self.iteration, self.ctx
        last = it >= ctx.max_iterations
        report = it % cfg.steps_per_report == 0 or last
        evaluate = bool(self.val) and (it % cfg.steps_per_eval == 0 or last)
        verdict, val = None, None
        if evaluate:
            val, verdict = self._validate(step_times)
        if report or evaluate:
            self._record(window, step_times, val, train=report)
        if self.watchdog.reason:
            return self._watchdog_stop()
        if self.sampler is not None and self.sampler.due(it, last):
            self._sample()
        stop_early = verdict is not None and verdict.stop and not last
        saved = None
        if it % cfg.save_every == 0 and not (last or stop_early) and self.watchdog.suspect:
            ctx.log("warning", f"checkpoint at iteration {it} skipped: {self.watchdog.spike_note()}")
        elif it % cfg.save_every == 0 or last or stop_early:
            saved = self.save("early-stop" if stop_early else ("final" if last else "periodic"), val)
        if verdict is not None and verdict.is_best:
            self.save_best(val, saved)
        if stop_early:
            ctx.emit(ev.EarlyStop(it, verdict.reason, self.tracker.best_iteration, self.tracker.best_loss))
            return Outcome(ev.STOPPED, f"early stop: {verdict.reason}", it, stop_cause.EARLY_STOP)
        return None

    def _watchdog_stop(self) -> Outcome:
        """Stop without saving: the weights of this iteration are the bad ones; the newest checkpoint is older."""
        newest = ck.latest_checkpoint(self.ctx.run.path)
        kept = (f"checkpoint {newest.name} (iteration {int(newest.name)}) stays the newest" if newest is not None
                else "no checkpoint was saved before it")
        reason = f"watchdog: {self.watchdog.reason}; {kept} — lower learning_rate or set max_grad_norm, then resume"
        self.ctx.log("warning", f"stopping at iteration {self.iteration}: {reason}")
        return Outcome(ev.STOPPED, reason, self.iteration, stop_cause.WATCHDOG)

    def _validate(self, step_times):
        tic = time.perf_counter()
        val = self.evaluate()
        self.eval_seconds = time.perf_counter() - tic
        self.elapsed += self.eval_seconds
        self.last_val, self.last_val_iteration = val, self.iteration
        verdict = self.tracker.update(self.iteration, val)
        self.ctx.emit(ev.Validation(self.iteration, val, self.tracker.best_loss, self.tracker.best_iteration,
                                    verdict.is_best, verdict.overfitting, self.tracker.since_improvement,
                                    self.eval_seconds))
        if verdict.overfitting:
            self.ctx.log("warning", f"overfitting at iteration {self.iteration}: {verdict.reason}")
        return val, verdict

    def _sample(self) -> None:
        """Samples of the current weights to ``samples.jsonl`` and the UIs (its time counts as run time)."""
        tic = time.perf_counter()
        records = self.sampler.sample(self.model, self.iteration)
        self.elapsed += time.perf_counter() - tic
        self.ctx.emit(ev.Samples(self.iteration, tuple(records)))

    def _val_here(self) -> float | None:
        """The validation loss measured at the current iteration, if there was one."""
        return self.last_val if self.last_val_iteration == self.iteration else None

    def _validate_and_record(self, window, step_times) -> None:
        val, _ = self._validate(step_times)
        self._record(window, step_times, val, train=False)

    def _record(self, window: "_Window", step_times: list[float], val: float | None, train: bool) -> None:
        import mlx.core as mx

        ctx, cfg = self.ctx, self.ctx.cfg
        extra = window.take_metrics() if train else {}
        loss, tps, norm = window.take() if train else (None, window.last_tps, window.last_norm)
        if loss is not None:
            self.last_train_loss = loss
            self.watchdog.report(self.iteration, loss)
        recent = step_times[1:][-50:] or step_times[-1:]
        per_step = sum(recent) / len(recent) if recent else None
        remaining = max(ctx.max_iterations - self.iteration, 0)
        evals_left = remaining // cfg.steps_per_eval if self.val else 0
        eta = remaining * per_step + evals_left * self.eval_seconds if per_step is not None else None
        metrics = ev.Metrics(self.iteration, utc_now(), loss, val, _lr(self.opt), tps,
                             round(mx.get_peak_memory() / 1e9, 4), None, norm, self.trained_tokens,
                             round(self.stream.epochs_done, 4), round(eta, 1) if eta is not None else None,
                             ctx.max_iterations, extra={**extra, **(self.val_metrics if val is not None else {})})
        ctx.run.append_metrics(metrics.record())
        ctx.emit(metrics)


def _leaves(tree):
    from mlx.utils import tree_flatten

    return [v for _, v in tree_flatten(tree)]
