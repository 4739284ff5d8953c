"""The expected peak memory of a training run, from the config and the model's files alone.

The parts: the weights as stored (quantized ones stay packed), the trained parameters with their
gradients and optimizer state, the activations a backward pass keeps (per trained block and per
token, plus the attention scores, which grow with the square of the sequence), and the loss over
the vocabulary (the logits and their gradient, kept in float32). The per-token counts are
calibrated against ``mx.get_peak_memory`` of real steps on MLX's CPU backend
(``bench/bench_memory.py`` measures the error; the constants below say what each one stands for).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from forgellm_tui.core.memory.machine import Machine
from forgellm_tui.core.memory.shape import ModelShape

# Calibrated on MLX 0.32's CPU backend: peaks of forward/backward passes on llama models whose hidden
# size, intermediate size, vocabulary, block count and sequence length were varied one at a time,
# then whole runs of 4.3 M and 102 M parameters (bench/bench_memory.py). Each constant is a count of
# tensors of that size alive at the step's peak (fitted, so it need not be a whole number).
#: per trained block and token: intermediate-sized tensors (the MLP's gate, up, their activation and
#: product, and the gradients flowing through them); hidden-sized ones are too few to show
INTERMEDIATE_TENSORS = 7.0
HIDDEN_TENSORS = 0.0
#: per trained block and token, LoRA/DoRA: the low-rank path beside each adapted layer, per output unit
ADAPTED_OUTPUT_TENSORS = 0.26
#: per trained block and token, LoRA/DoRA with ``lora_dropout`` > 0: each adapted layer's dropped-out
#: input (fitted on ift-demo, dropout 0.05: its measured peak was 19% above the estimate without it)
DROPOUT_INPUT_TENSORS = 1.0
#: per trained block and row: attention scores (heads x tokens x tokens); the softmax's output is kept
SCORE_TENSORS = 1.1
#: once per token: the backward pass's working tensors of the block it is in, hidden-sized
TRANSIENT_HIDDEN_TENSORS = 22.5
#: per token: float32 vocabulary-sized tensors of the loss (logits, log-softmax, its gradient): measured 4.0
LOGIT_TENSORS = 4.0
#: DoRA, per trained block: weight-sized tensors of each adapted layer (the merged weight, its norm's
#: input and their gradients), built on every forward pass
DORA_WEIGHT_TENSORS = 3.5
#: grad_checkpoint: each trained block keeps only its input; one block at a time is recomputed
CHECKPOINT_TENSORS = 1.0
#: the optimizer update's new parameters and moments overlap the old ones for part of the trained weights
UPDATE_COPIES = 0.6
#: MLX's own buffers outside the model (random state, compiled-graph constants, the batch)
FIXED_BYTES = 7 << 20
#: optimizer state per trained parameter, in parameter-sized tensors
OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd": 1, "muon": 1, "adafactor": 0}
LORA_BYTES = 4            # LoRA matrices are float32 (mlx-lm creates them so, whatever the model's dtype)
LOSS_BYTES = 4            # the loss is computed in float32


@dataclass(frozen=True)
class MemoryEstimate:
    """Expected peak bytes of one training step, by part, next to the machine's memory."""

    weights: int            # the base model as loaded
    trainable: int          # trained parameters (LoRA/DoRA matrices, or the full blocks' weights)
    gradients: int
    optimizer: int          # optimizer state, plus the update's new copies
    activations: int        # what the backward pass keeps for the trained blocks
    logits: int             # the loss over the vocabulary
    overhead: int
    rows: int               # sequences per micro-batch (on this rank)
    tokens: int             # tokens per sequence (the longest batch's width)
    trained_blocks: int
    grad_checkpoint: bool
    machine: Machine | None = None
    advice: str | None = None   # the first change that makes it fit, when it does not

    @property
    def total(self) -> int:
        return (self.weights + self.trainable + self.gradients + self.optimizer + self.activations + self.logits
                + self.overhead)

    @property
    def fits(self) -> bool | None:
        return None if self.machine is None else self.total <= self.machine.available

    def parts(self) -> dict[str, int]:
        return {"weights": self.weights, "trainable": self.trainable, "gradients": self.gradients,
                "optimizer": self.optimizer, "activations": self.activations, "logits": self.logits,
                "overhead": self.overhead}

    def record(self) -> dict:
        """What run.json keeps (bytes)."""
        out = {"total": self.total, **self.parts(), "rows": self.rows, "tokens": self.tokens,
               "grad_checkpoint": self.grad_checkpoint}
        if self.machine is not None:
            out.update(machine_total=self.machine.total, machine_available=self.machine.available,
                       machine_source=self.machine.source, fits=self.fits)
        if self.advice:
            out["advice"] = self.advice
        return out

    def lines(self) -> list[str]:
        """The estimate with its breakdown, for the run's log and ``train --dry-run`` (each line ends
        with a long word, so a narrow log pane never wraps it into a stub)."""
        blocks = f"{self.trained_blocks} blocks" + (", grad_checkpoint" if self.grad_checkpoint else "")
        return [f"memory: ~{gib(self.total)} expected peak; {self.room()}",
                f"memory: {gib(self.weights)} weights, {gib(self.trainable)} trained parameters, "
                f"{gib(self.gradients)} gradients, {gib(self.optimizer)} optimizer",
                f"memory: {gib(self.activations)} activations ({self.rows} x {self.tokens} tokens, {blocks}), "
                f"{gib(self.logits)} loss logits"] + self.warning()

    def short_lines(self) -> list[str]:
        """Two lines of at most ~40 columns for the Training screen's estimate pane (plus the warning)."""
        unit, div, fmt = ("GiB", 2**30, "{:.1f}") if self.total >= 2**30 else ("MiB", 2**20, "{:,.0f}")

        def part(n: int) -> str:
            return fmt.format(n / div)

        return [f"memory ~{gib(self.total)} peak · {self.room(short=True)}",
                f"weights {part(self.weights)} · train {part(self.trainable + self.gradients + self.optimizer)}"
                f" · act {part(self.activations + self.logits)} {unit}"] + self.warning()

    def room(self, short: bool = False) -> str:
        if self.machine is None:
            return "machine memory unknown"
        if short:
            return f"{gib(self.machine.available)} free"
        return f"{gib(self.machine.available)} of {gib(self.machine.total)} {self.machine.source} available"

    def warning(self) -> list[str]:
        if self.fits is not False:
            return []
        return [f"⚠ will not fit; {self.advice}" if self.advice else
                "⚠ will not fit, even with the smallest settings"]


def gib(n: int | float) -> str:
    """Bytes in the unit that reads best: ``812 MiB``, ``3.4 GiB``."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def adapted_linears(shape: ModelShape, keys: list | None):
    """The block's linear layers LoRA/DoRA adapts (``keys`` None: every linear layer)."""
    return [lin for lin in shape.block_linears if keys is None or lin.key in keys]


def _trained(cfg, shape: ModelShape) -> tuple[int, int, int]:
    """(trained blocks, trained parameter bytes, summed output width of the adapted layers)."""
    blocks = shape.layers if cfg.num_layers <= 0 else min(cfg.num_layers, shape.layers)  # 0: all, as mlx-lm slices
    if cfg.fine_tune_type == "full":
        return blocks, blocks * shape.block_bytes, 0
    linears = adapted_linears(shape, cfg.lora_keys)
    per_block = sum(lin.experts * cfg.lora_rank * (lin.in_dims + lin.out_dims) for lin in linears) * LORA_BYTES
    if cfg.fine_tune_type == "dora":
        per_block += sum(lin.experts * lin.out_dims for lin in linears) * shape.compute_bytes
    return blocks, blocks * per_block, sum(lin.experts * lin.out_dims for lin in linears)


def _activations(cfg, shape: ModelShape, blocks: int, adapted_out: int, rows: int, tokens: int) -> int:
    """Bytes the backward pass keeps for ``blocks`` trained blocks on ``rows`` x ``tokens``."""
    per_token = (HIDDEN_TENSORS * shape.hidden + INTERMEDIATE_TENSORS * shape.intermediate
                 + ADAPTED_OUTPUT_TENSORS * adapted_out) * shape.compute_bytes
    if cfg.fine_tune_type != "full" and cfg.lora_dropout > 0:
        per_token += DROPOUT_INPUT_TENSORS * shape.compute_bytes * sum(
            lin.experts * lin.in_dims for lin in adapted_linears(shape, cfg.lora_keys))
    scores = SCORE_TENSORS * shape.heads * tokens * tokens * shape.compute_bytes
    one_block = rows * (tokens * per_token + scores)
    transient = rows * tokens * TRANSIENT_HIDDEN_TENSORS * shape.hidden * shape.compute_bytes
    if cfg.fine_tune_type == "dora":  # each adapted layer's merged weight is built to take its norm
        one_block += DORA_WEIGHT_TENSORS * shape.compute_bytes * sum(
            lin.experts * lin.in_dims * lin.out_dims for lin in adapted_linears(shape, cfg.lora_keys))
    if cfg.grad_checkpoint:
        return int(blocks * rows * tokens * shape.hidden * shape.compute_bytes * CHECKPOINT_TENSORS + one_block
                   + transient)
    return int(blocks * one_block + transient)


def estimate_memory(cfg, shape: ModelShape, tokens: int | None = None, world_size: int = 1,
                    machine: Machine | None = None) -> MemoryEstimate:
    """The expected peak of a step of ``cfg`` on a model of ``shape``.

    ``tokens``: the widest batch's width (the longest row, padded); None = ``max_seq_length``. The
    model sees one token fewer than the row holds (the last one is only a target).
    """
    width = max(min(tokens or cfg.max_seq_length, cfg.max_seq_length) - 1, 1)
    rows = -(-cfg.batch_size // max(world_size, 1))
    blocks, trainable, adapted_out = _trained(cfg, shape)
    states = OPTIMIZER_STATES.get(cfg.optimizer, 2)
    weights = shape.weight_bytes - (trainable if cfg.fine_tune_type == "full" else 0)
    return MemoryEstimate(
        weights=weights, trainable=trainable, gradients=trainable,
        optimizer=int(trainable * (states + UPDATE_COPIES)),
        activations=_activations(cfg, shape, blocks, adapted_out, rows, width),
        logits=int(LOGIT_TENSORS * rows * width * shape.vocab * LOSS_BYTES),
        overhead=FIXED_BYTES, rows=rows, tokens=width + 1, trained_blocks=blocks,
        grad_checkpoint=bool(cfg.grad_checkpoint), machine=machine)


def with_machine(est: MemoryEstimate, machine: Machine | None, advice: str | None) -> MemoryEstimate:
    return replace(est, machine=machine, advice=advice)
