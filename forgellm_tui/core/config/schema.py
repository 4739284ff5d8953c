"""The training config's fields: names, defaults, allowed values, aliases and one-line help.

One source of truth for ``TrainingConfig`` (a dataclass), for validation (``config.py``), for the
comments written into YAML files and for the TUI form. Names follow the seed ForgeLLM config and
mlx-lm's ``lora`` YAML; aliases map the other spelling (``iters`` -> ``max_iterations``). Nested
mlx-lm sections (``lora_parameters``, ``lr_schedule: {name, arguments, warmup, warmup_init}``)
are flattened by ``config.normalize``.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

TRAINING_TYPES = ("cpt", "ift")
FINE_TUNE_TYPES = ("lora", "dora", "full")
OPTIMIZERS = ("adam", "adamw", "sgd", "adafactor", "muon")
#: schedule names we accept -> canonical name; canonical ones map to an mlx.optimizers scheduler
SCHEDULES = {
    "cosine": "cosine", "cosine_decay": "cosine",
    "linear": "linear", "linear_decay": "linear", "linear_schedule": "linear",
    "constant": "constant", "none": "constant",
    "exponential_decay": "exponential_decay", "step_decay": "step_decay",
}
MLX_SCHEDULE = {"cosine": "cosine_decay", "linear": "linear_schedule", "exponential_decay": "exponential_decay",
                "step_decay": "step_decay"}
#: keyword arguments each optimizer accepts in ``optimizer_config`` (mlx.optimizers signatures)
OPTIMIZER_KWARGS = {
    "adam": ("betas", "eps", "bias_correction"),
    "adamw": ("betas", "eps", "weight_decay", "bias_correction"),
    "sgd": ("momentum", "weight_decay", "dampening", "nesterov"),
    "adafactor": ("eps", "clip_threshold", "decay_rate", "beta_1", "weight_decay", "scale_parameter",
                  "relative_step", "warmup_init"),
    "muon": ("momentum", "weight_decay", "nesterov", "ns_steps"),
}
#: upper bound of step counts (iterations, intervals): far above any real run, small enough for every
#: computation that uses them
MAX_STEPS = 1_000_000_000
#: seed LoRA module presets (``lora_modules``) -> block-relative keys (None = every linear layer)
LORA_MODULE_PRESETS = {
    "default": ["self_attn.q_proj", "self_attn.v_proj"],
    "attention_only": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"],
    "all_linear": None,
}
#: keys other tools write that training does not use: accepted with a note, kept in ``extra``
IGNORED_KEYS = {
    "train": "always on here",
    "test": "run an evaluation separately",
    "test_batches": "run an evaluation separately",
    "config": "not needed inside a config file",
    "report_to": "metrics go to the run's metrics.jsonl",
    "wandb": "metrics go to the run's metrics.jsonl",
    "hf_dataset": "prepare the data with forgellm-tui prepare and set data:",
    "project_name": "metrics go to the run's metrics.jsonl",
    "data_mixture_ratio": "used when preparing data (forgellm-tui prepare), not by training",
    "validation_split": "used when preparing data (forgellm-tui prepare), not by training",
    "validation_fast_pct": "use val_batches",
    "lora_alpha": "mlx-lm uses lora scale (lora_parameters.scale), not alpha",
    "use_lr_rewarming": "not supported",
    "max_tokens_per_file": "used when preparing data",
}


def spec(default: Any = MISSING, help: str = "", *, kind: str = "str", aliases: tuple[str, ...] = (),
         choices: tuple = (), minimum: float | None = None, maximum: float | None = None,
         above: float | None = None, nullable: bool = False, group: str = "training", form: bool = False):
    """A dataclass field carrying its validation rules in ``metadata``.

    kind: str, int, float, bool, choice, path, list, dict, schedule. ``minimum``/``maximum`` are
    inclusive bounds, ``above`` an exclusive lower bound. ``form``: shown in the TUI's short form.
    """
    meta = dict(help=help, kind=kind, aliases=aliases, choices=choices, minimum=minimum, maximum=maximum,
                above=above, nullable=nullable, group=group, form=form)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainingConfig:
    """A complete, validated training config. Build it with ``config.load_config``/``config.from_dict``."""

    # run
    name: str | None = spec(None, "run folder name (default: <model>_<type>_lr.._bs.._iter.._<date>)",
                            nullable=True, group="run", form=True)
    training_type: str = spec("cpt", "cpt: continued pre-training on text; ift: instruction tuning on chats",
                              kind="choice", choices=TRAINING_TYPES, aliases=("type",), group="run", form=True)
    model: str = spec("", "base model: a folder (relative to the workspace), models/base/<name> or a "
                          "Hugging Face repo id already in the local cache", kind="path",
                      aliases=("model_name", "base_model"), group="run", form=True)
    data: str = spec("", "prepared data folder with train.jsonl (+ valid.jsonl), e.g. data/cpt-demo", kind="path",
                     aliases=("data_dir", "input_dir", "data_path"), group="run", form=True)
    output_dir: str | None = spec(None, "where run folders go (default models/cpt or models/ift)", kind="path",
                                  nullable=True, group="run")
    run_dir: str | None = spec(None, "exact run folder (overrides output_dir/name)", kind="path",
                               aliases=("adapter_path",), nullable=True, group="run")
    # what is trained
    fine_tune_type: str = spec("lora", "lora, dora (weight-decomposed LoRA) or full (all weights of the layers)",
                               kind="choice", choices=FINE_TUNE_TYPES, group="model", form=True)
    num_layers: int = spec(-1, "how many of the last transformer blocks to train; -1 = all", kind="int",
                           minimum=-1, maximum=100_000, aliases=("lora_layers",), group="model", form=True)
    lora_rank: int = spec(8, "LoRA rank", kind="int", minimum=1, maximum=4096, group="model", form=True)
    lora_scale: float = spec(20.0, "LoRA scale (mlx-lm's name; the update is multiplied by it)", kind="float",
                             above=0.0, group="model")
    lora_dropout: float = spec(0.0, "dropout on the LoRA input", kind="float", minimum=0.0, maximum=0.99,
                               group="model")
    lora_keys: list | None = spec(None, "block-relative layers to adapt, e.g. [self_attn.q_proj, "
                                        "self_attn.v_proj]; null = every linear layer", kind="list",
                                  nullable=True, group="model")
    # how long
    max_iterations: int = spec(1000, "optimizer steps to train (one step = batch_size x grad_accumulation_steps "
                                     "sequences)", kind="int", minimum=1, maximum=MAX_STEPS,
                               aliases=("iters", "max_iters"),
                               form=True)
    epochs: float | None = spec(None, "train this many passes over the data instead of max_iterations",
                                kind="float", above=0.0, nullable=True, form=True)
    batch_size: int = spec(4, "sequences per micro-batch", kind="int", minimum=1, maximum=4096, form=True)
    grad_accumulation_steps: int = spec(1, "micro-batches whose gradients are averaged per optimizer step",
                                        kind="int", minimum=1, maximum=1024)
    max_seq_length: int = spec(2048, "longest sequence in tokens; longer ones are truncated", kind="int",
                               minimum=2, maximum=1_048_576, form=True)
    packing: bool = spec(False, "CPT: concatenate texts and cut rows of exactly max_seq_length tokens "
                                "(no padding, nothing truncated)", kind="bool")
    mask_prompt: bool | None = spec(None, "IFT: compute the loss on the answer only (default: true for IFT)",
                                    kind="bool", nullable=True)
    # optimisation
    learning_rate: float = spec(1e-5, "peak learning rate", kind="float", above=0.0, maximum=10.0, form=True)
    lr_schedule: str = spec("cosine", "cosine, linear or constant (each after warmup_steps); mlx names "
                                      "cosine_decay/linear_schedule/exponential_decay/step_decay also work",
                            kind="schedule", choices=tuple(SCHEDULES), form=True)
    lr_schedule_arguments: list | None = spec(None, "explicit mlx scheduler arguments (mlx-lm "
                                                    "lr_schedule.arguments); null = derived", kind="list",
                                              nullable=True)
    warmup_steps: int = spec(0, "steps of linear warmup from warmup_init to learning_rate", kind="int", minimum=0,
                             maximum=MAX_STEPS,
                             aliases=("warmup",), form=True)
    warmup_init: float = spec(0.0, "learning rate at the first warmup step", kind="float", minimum=0.0)
    lr_decay_factor: float = spec(0.1, "cosine/linear end at learning_rate x this", kind="float", minimum=0.0,
                                  maximum=1.0)
    optimizer: str = spec("adamw", "adam, adamw, sgd, adafactor or muon", kind="choice", choices=OPTIMIZERS)
    weight_decay: float | None = spec(None, "weight decay (adamw, sgd, adafactor, muon); null = the optimizer's "
                                            "default (adamw 0.01)", kind="float",
                                      minimum=0.0, maximum=1.0, nullable=True)
    optimizer_config: dict = spec({}, "extra optimizer arguments, e.g. {adamw: {betas: [0.9, 0.98]}}",
                                  kind="dict")
    max_grad_norm: float | None = spec(None, "clip the gradient to this global norm; null = no clipping",
                                       kind="float", above=0.0, nullable=True, aliases=("grad_clip",))
    seed: int = spec(0, "random seed (adapter init, data order, dropout)", kind="int", minimum=0,
                     maximum=2**31 - 1)
    grad_checkpoint: bool = spec(False, "recompute activations in the backward pass (less memory, ~30% slower)",
                                 kind="bool")
    # reporting, validation, checkpoints
    steps_per_report: int = spec(10, "steps between metrics records", kind="int", minimum=1, maximum=MAX_STEPS,
                                 aliases=("report_every",))
    steps_per_eval: int = spec(50, "steps between validations", kind="int", minimum=1, maximum=MAX_STEPS,
                               aliases=("eval_every",), form=True)
    val_batches: int = spec(25, "validation batches per evaluation; -1 = whole validation set; 0 = none",
                            kind="int", minimum=-1, maximum=MAX_STEPS)
    save_every: int = spec(100, "steps between checkpoints", kind="int", minimum=1, maximum=MAX_STEPS,
                           aliases=("steps_per_save", "checkpoint_every"), form=True)
    max_checkpoints: int | None = spec(None, "keep only the newest N numbered checkpoints (best/ is always "
                                             "kept); null = keep all", kind="int", minimum=1, maximum=MAX_STEPS,
                                     nullable=True)
    # early stopping
    early_stopping: bool | None = spec(None, "stop when validation stops improving (default: on for CPT)",
                                       kind="bool", nullable=True, aliases=("enable_early_stopping",),
                                       group="early stopping", form=True)
    early_stopping_patience: int = spec(3, "evaluations without improvement before stopping", kind="int",
                                        minimum=1, maximum=MAX_STEPS, group="early stopping", form=True)
    min_loss_improvement: float = spec(0.001, "smallest validation-loss decrease that counts as improvement",
                                       kind="float", minimum=0.0, group="early stopping")
    overfitting_threshold: float = spec(0.3, "overfitting when validation loss is this fraction above its best "
                                             "(0.3 = 30%)", kind="float", above=0.0, maximum=10.0,
                                        group="early stopping")
    # data / loading details (mlx-lm names)
    text_feature: str = spec("text", "key of the text in CPT lines", group="data")
    chat_feature: str = spec("messages", "key of the conversation in IFT lines", group="data")
    prompt_feature: str = spec("prompt", "key of the prompt in prompt/completion lines", group="data")
    completion_feature: str = spec("completion", "key of the completion in prompt/completion lines", group="data")
    resume_adapter_file: str | None = spec(None, "start from these adapter weights (shapes are checked); "
                                                 "for an exact resume use --resume RUN_DIR", kind="path",
                                           nullable=True, group="data")
    trust_remote_code: bool = spec(False, "allow model code from the model folder (off: safer)", kind="bool",
                                   group="data")
    clear_cache_threshold: int = spec(0, "free MLX's buffer cache when it exceeds this many bytes; 0 = never",
                                      kind="int", minimum=0, maximum=2**63 - 1, group="data")
    # several machines
    distributed: dict | None = spec(None, "data-parallel training on several machines: {hosts: [mac1, mac2] | "
                                          "hostfile: PATH, backend: ring|mpi, port: 32323}; null = this machine "
                                          "only (docs/distributed.md)", kind="dict", nullable=True,
                                    group="distributed")
    #: unknown-but-tolerated keys from other tools (see IGNORED_KEYS), kept verbatim
    extra: dict = field(default_factory=dict, metadata=dict(kind="internal"))
    #: workspace the relative paths are resolved against (not written to YAML); None = current settings
    workspace: str | None = field(default=None, repr=False, compare=False, metadata=dict(kind="internal"))
    #: the file it was read from, named in error messages (not written to YAML)
    source: str | None = field(default=None, repr=False, compare=False, metadata=dict(kind="internal"))

    # ------------------------------------------------------------------ derived values
    @property
    def is_ift(self) -> bool:
        return self.training_type == "ift"

    @property
    def effective_mask_prompt(self) -> bool:
        return self.is_ift if self.mask_prompt is None else bool(self.mask_prompt)

    @property
    def effective_early_stopping(self) -> bool:
        return (not self.is_ift) if self.early_stopping is None else bool(self.early_stopping)

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accumulation_steps

    def to_dict(self) -> dict:
        """Canonical key -> value for every field (plus tolerated extra keys)."""
        from forgellm_tui.core.config.model import config_to_dict

        return config_to_dict(self)

    def to_yaml(self, comments: bool = True) -> str:
        """The config as YAML, one comment per key (the resolved config saved with a run)."""
        from forgellm_tui.core.config.model import config_to_yaml

        return config_to_yaml(self, comments=comments)

    @property
    def lora_parameters(self) -> dict:
        params = {"rank": self.lora_rank, "scale": self.lora_scale, "dropout": self.lora_dropout}
        if self.lora_keys:
            params["keys"] = list(self.lora_keys)
        return params


@dataclass(frozen=True)
class FieldInfo:
    name: str
    kind: str
    default: Any
    help: str
    aliases: tuple[str, ...]
    choices: tuple
    minimum: float | None
    maximum: float | None
    above: float | None
    nullable: bool
    group: str
    form: bool

    def range_text(self) -> str:
        """The allowed values, for messages: 'one of a, b', '≥ 1', '> 0 and ≤ 10'."""
        if self.choices:
            shown = [c for c in self.choices if self.kind != "schedule" or c in ("cosine", "linear", "constant")]
            return "one of " + ", ".join(map(str, shown))
        parts = []
        if self.above is not None:
            parts.append(f"> {_num(self.above)}")
        if self.minimum is not None:
            parts.append(f"≥ {_num(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"≤ {_num(self.maximum)}")
        text = " and ".join(parts)
        if self.nullable:
            text = (text + " or null") if text else "or null"
        return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _info() -> dict[str, FieldInfo]:
    out = {}
    for f in fields(TrainingConfig):
        m = f.metadata
        if m.get("kind") == "internal":
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out[f.name] = FieldInfo(f.name, m["kind"], default, m["help"], tuple(m["aliases"]), tuple(m["choices"]),
                                m["minimum"], m["maximum"], m["above"], m["nullable"], m["group"], m["form"])
    return out


#: canonical field name -> FieldInfo, in declaration order
FIELDS: dict[str, FieldInfo] = _info()
#: every accepted top-level spelling -> canonical name
ALIASES: dict[str, str] = {a: name for name, info in FIELDS.items() for a in (name, *info.aliases)}
#: nested mlx-lm keys (``section.key``) -> canonical name
NESTED = {
    "lora_parameters.rank": "lora_rank", "lora_parameters.scale": "lora_scale",
    "lora_parameters.dropout": "lora_dropout", "lora_parameters.keys": "lora_keys",
    "lr_schedule.name": "lr_schedule", "lr_schedule.arguments": "lr_schedule_arguments",
    "lr_schedule.warmup": "warmup_steps", "lr_schedule.warmup_init": "warmup_init",
}
#: seed spellings of LoRA settings
SEED_LORA = {"lora_rank": "lora_rank", "lora_scale": "lora_scale", "lora_dropout": "lora_dropout"}
#: fields that change the shape of what is trained: a resume must not change them
SHAPE_FIELDS = ("fine_tune_type", "num_layers", "lora_rank", "lora_keys", "model")
