"""The training config: one pydantic dataclass whose fields carry type, default, range, aliases and description.

Each field's ``description`` is the one line shown as its YAML comment, as the Training form's help
and in ``forgellm-tui train --help``. Names follow the original ForgeLLM config and mlx-lm's ``lora``
YAML; ``validation_alias`` lists the other spellings (``iters`` -> ``max_iterations``) and mlx-lm's
nested keys (``lora_parameters.rank``, ``lr_schedule.warmup``), which ``model.normalize`` maps to
the field before pydantic validates. Rules between fields are the ``model_validator``.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import AliasChoices, AliasPath, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from forgellm_tui.core.config import values as v
from forgellm_tui.core.config.rules import RULES, rule_problems

#: schedule names we accept -> canonical name; canonical ones map to an mlx.optimizers scheduler
SCHEDULES = {
    "cosine": "cosine", "cosine_decay": "cosine",
    "linear": "linear", "linear_decay": "linear", "linear_schedule": "linear",
    "constant": "constant", "none": "constant",
    "exponential_decay": "exponential_decay", "step_decay": "step_decay",
}
MLX_SCHEDULE = {"cosine": "cosine_decay", "linear": "linear_schedule", "exponential_decay": "exponential_decay",
                "step_decay": "step_decay"}
#: upper bound of step counts (iterations, intervals): far above any real run, small enough for every
#: computation that uses them
MAX_STEPS = 1_000_000_000
#: the original ForgeLLM's LoRA module presets (``lora_modules``) -> block-relative keys (None = every linear layer)
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
#: fields that change the shape of what is trained: a resume must not change them
SHAPE_FIELDS = ("fine_tune_type", "num_layers", "lora_rank", "lora_keys", "model")
#: YAML section headers: group -> its first field (the fields of a group follow each other)
GROUPS = {"run": "name", "model": "fine_tune_type", "training": "max_iterations", "samples": "sample_prompts",
          "early stopping": "early_stopping", "data": "text_feature", "distributed": "distributed"}
#: optional groups, written to YAML only when their first key is set
OPTIONAL_GROUPS = ("samples", "distributed")


def _also(name: str, *others: str | AliasPath) -> AliasChoices:
    """The field's own name plus the other spellings it is read from."""
    return AliasChoices(name, *others)


def _lora(key: str) -> AliasPath:
    return AliasPath("lora_parameters", key)


def _schedule(key: str) -> AliasPath:
    return AliasPath("lr_schedule", key)


Schedule = Literal["cosine", "linear", "constant", "exponential_decay", "step_decay"]


@dataclass(config=ConfigDict(extra="forbid"))
class TrainingConfig:
    """A complete, validated training config. Build it with ``config.load_config``/``config.from_dict``.

    Built directly (``dataclasses.replace``), each value is checked; the rules between fields are
    checked by ``from_dict``, which knows which keys the file set.
    """

    # run
    name: Annotated[str | None, v.TEXT] = Field(
        None, description="run folder name (default: <model>_<type>_lr.._bs.._iter.._<date>)")
    training_type: Annotated[Literal["cpt", "ift", "dpo", "orpo"], v.CHOICE] = Field(
        "cpt", validation_alias=_also("training_type", "type"),
        description="cpt: continued pre-training on text; ift: instruction tuning on chats; dpo, orpo: "
                    "preference tuning on chosen/rejected answer pairs")
    model: Annotated[str, v.PATH] = Field(
        "", validation_alias=_also("model", "model_name", "base_model"),
        description="base model: a folder (relative to the workspace), models/base/<name> or a Hugging Face "
                    "repo id already in the local cache")
    data: Annotated[str, v.PATH] = Field(
        "", validation_alias=_also("data", "data_dir", "input_dir", "data_path"),
        description="prepared data folder with train.jsonl (+ valid.jsonl), e.g. data/cpt-demo")
    output_dir: Annotated[str | None, v.PATH] = Field(
        None, description="where run folders go (default models/<training_type>: cpt, ift, dpo or orpo)")
    run_dir: Annotated[str | None, v.PATH] = Field(
        None, validation_alias=_also("run_dir", "adapter_path"),
        description="exact run folder (overrides output_dir/name)")
    # what is trained
    fine_tune_type: Annotated[Literal["lora", "dora", "full"], v.CHOICE] = Field(
        "lora", description="lora, dora (weight-decomposed LoRA) or full (all weights of the layers)")
    num_layers: Annotated[int, v.WHOLE_NUMBER] = Field(
        -1, ge=-1, le=100_000, validation_alias=_also("num_layers", "lora_layers"),
        description="how many of the last transformer blocks to train; -1 = all")
    lora_rank: Annotated[int, v.WHOLE_NUMBER] = Field(
        8, ge=1, le=4096, validation_alias=_also("lora_rank", _lora("rank")), description="LoRA rank")
    lora_scale: Annotated[float, v.NUMBER] = Field(
        20.0, gt=0.0, validation_alias=_also("lora_scale", _lora("scale")),
        description="LoRA scale (mlx-lm's name; the update is multiplied by it)")
    lora_dropout: Annotated[float, v.NUMBER] = Field(
        0.0, ge=0.0, le=0.99, validation_alias=_also("lora_dropout", _lora("dropout")),
        description="dropout on the LoRA input")
    lora_keys: Annotated[list | None, v.NAMES] = Field(
        None, validation_alias=_also("lora_keys", _lora("keys")),
        description="block-relative layers to adapt, e.g. [self_attn.q_proj, self_attn.v_proj]; null = every "
                    "linear layer")
    # how long
    max_iterations: Annotated[int, v.WHOLE_NUMBER] = Field(
        1000, ge=1, le=MAX_STEPS, validation_alias=_also("max_iterations", "iters", "max_iters"),
        description="optimizer steps to train (one step = batch_size x grad_accumulation_steps sequences)")
    epochs: Annotated[float | None, v.NUMBER] = Field(
        None, gt=0.0, description="train this many passes over the data instead of max_iterations")
    batch_size: Annotated[int, v.WHOLE_NUMBER] = Field(4, ge=1, le=4096, description="sequences per micro-batch")
    grad_accumulation_steps: Annotated[int, v.WHOLE_NUMBER] = Field(
        1, ge=1, le=1024, description="micro-batches whose gradients are averaged per optimizer step")
    max_seq_length: Annotated[int, v.WHOLE_NUMBER] = Field(
        2048, ge=2, le=1_048_576, description="longest sequence in tokens; longer ones are truncated")
    packing: Annotated[bool, v.FLAG] = Field(
        False, description="CPT: concatenate texts and cut rows of exactly max_seq_length tokens (no padding, "
                           "nothing truncated)")
    mask_prompt: Annotated[bool | None, v.FLAG] = Field(
        None, description="IFT: compute the loss on the answers only (default: true for IFT); "
                          "true = train_on assistant, false = train_on all")
    train_on: Annotated[Literal["assistant", "last", "all"] | None, v.CHOICE] = Field(
        None, description="IFT tokens the loss sees: assistant (every assistant turn, the default), last "
                          "(the last assistant turn only, as mlx-lm) or all (the whole conversation)")
    beta: Annotated[float, v.NUMBER] = Field(
        0.1, gt=0.0, le=1000.0, description="DPO: temperature of the preference loss (higher = stay closer to "
                                            "the starting model)")
    orpo_lambda: Annotated[float, v.NUMBER] = Field(
        0.1, gt=0.0, le=1000.0, validation_alias=_also("orpo_lambda", "lambda"),
        description="ORPO: weight of the odds-ratio term next to the chosen answers' loss")
    # optimisation
    learning_rate: Annotated[float, v.NUMBER] = Field(1e-5, gt=0.0, le=10.0, description="peak learning rate")
    lr_schedule: Annotated[Schedule, v.spelled(SCHEDULES, unset="constant")] = Field(
        "cosine", validation_alias=_also("lr_schedule", _schedule("name")),
        description="cosine, linear or constant (each after warmup_steps); mlx names "
                    "cosine_decay/linear_schedule/exponential_decay/step_decay also work")
    lr_schedule_arguments: Annotated[list | None, v.NAMES] = Field(
        None, validation_alias=_also("lr_schedule_arguments", _schedule("arguments")),
        description="explicit mlx scheduler arguments (mlx-lm lr_schedule.arguments); null = derived")
    warmup_steps: Annotated[int, v.WHOLE_NUMBER] = Field(
        0, ge=0, le=MAX_STEPS, validation_alias=_also("warmup_steps", "warmup", _schedule("warmup")),
        description="steps of linear warmup from warmup_init to learning_rate")
    warmup_init: Annotated[float, v.NUMBER] = Field(
        0.0, ge=0.0, validation_alias=_also("warmup_init", _schedule("warmup_init")),
        description="learning rate at the first warmup step")
    lr_decay_factor: Annotated[float, v.NUMBER] = Field(
        0.1, ge=0.0, le=1.0, description="cosine/linear end at learning_rate x this")
    optimizer: Annotated[Literal["adam", "adamw", "sgd", "adafactor", "muon"], v.CHOICE] = Field(
        "adamw", description="adam, adamw, sgd, adafactor or muon")
    weight_decay: Annotated[float | None, v.NUMBER] = Field(
        None, ge=0.0, le=1.0,
        description="weight decay (adamw, sgd, adafactor, muon); null = the optimizer's default (adamw 0.01)")
    optimizer_config: Annotated[dict, v.MAPPING] = Field(
        default_factory=dict, description="extra optimizer arguments, e.g. {adamw: {betas: [0.9, 0.98]}}")
    max_grad_norm: Annotated[float | None, v.NUMBER] = Field(
        None, gt=0.0, validation_alias=_also("max_grad_norm", "grad_clip"),
        description="clip the gradient to this global norm; null = no clipping")
    seed: Annotated[int, v.WHOLE_NUMBER] = Field(
        0, ge=0, le=2**31 - 1, description="random seed (adapter init, data order, dropout)")
    grad_checkpoint: Annotated[bool, v.FLAG] = Field(
        False, description="recompute activations in the backward pass (less memory, ~30% slower)")
    # reporting, validation, checkpoints
    steps_per_report: Annotated[int, v.WHOLE_NUMBER] = Field(
        10, ge=1, le=MAX_STEPS, validation_alias=_also("steps_per_report", "report_every"),
        description="steps between metrics records")
    steps_per_eval: Annotated[int, v.WHOLE_NUMBER] = Field(
        50, ge=1, le=MAX_STEPS, validation_alias=_also("steps_per_eval", "eval_every"),
        description="steps between validations")
    val_batches: Annotated[int, v.WHOLE_NUMBER] = Field(
        25, ge=-1, le=MAX_STEPS, description="validation batches per evaluation; -1 = whole validation set; 0 = none")
    save_every: Annotated[int, v.WHOLE_NUMBER] = Field(
        100, ge=1, le=MAX_STEPS, validation_alias=_also("save_every", "steps_per_save", "checkpoint_every"),
        description="steps between checkpoints")
    max_checkpoints: Annotated[int | None, v.WHOLE_NUMBER] = Field(
        None, ge=1, le=MAX_STEPS,
        description="keep only the newest N numbered checkpoints (best/ is always kept); null = keep all")
    # samples while training
    sample_prompts: Annotated[list | None, v.PROMPTS] = Field(
        None, description="prompts the model continues greedily at each sampling point, written to the run's "
                          "samples.jsonl (IFT: user messages in the chat template); null = no samples")
    sample_every: Annotated[int | None, v.WHOLE_NUMBER] = Field(
        None, ge=1, le=MAX_STEPS, description="steps between samples; null = at every validation (steps_per_eval)")
    sample_max_tokens: Annotated[int, v.WHOLE_NUMBER] = Field(
        48, ge=1, le=4096, description="most tokens generated per sample prompt")
    # early stopping
    early_stopping: Annotated[bool | None, v.FLAG] = Field(
        None, validation_alias=_also("early_stopping", "enable_early_stopping"),
        description="stop when validation stops improving (default: on for CPT)")
    early_stopping_patience: Annotated[int, v.WHOLE_NUMBER] = Field(
        3, ge=1, le=MAX_STEPS, description="evaluations without improvement before stopping")
    min_loss_improvement: Annotated[float, v.NUMBER] = Field(
        0.001, ge=0.0, description="smallest validation-loss decrease that counts as improvement")
    overfitting_threshold: Annotated[float, v.NUMBER] = Field(
        0.3, gt=0.0, le=10.0,
        description="overfitting when validation loss is this fraction above its best (0.3 = 30%)")
    # the loss watchdog (core/training/watchdog.py)
    watchdog: Annotated[bool, v.FLAG] = Field(
        True, description="stop the run when the training loss or gradient norm is not finite, or the loss "
                          "stays above watchdog_factor x its recent median (the last good checkpoint stays newest)")
    watchdog_factor: Annotated[float, v.NUMBER] = Field(
        4.0, gt=1.0, le=1000.0, description="a report's training loss above this many times its rolling median "
                                            "is a spike")
    watchdog_patience: Annotated[int, v.WHOLE_NUMBER] = Field(
        3, ge=1, le=MAX_STEPS, description="reports in a row with a spike before the watchdog stops the run")
    # data / loading details (mlx-lm names)
    text_feature: Annotated[str, v.TEXT] = Field("text", description="key of the text in CPT lines")
    chat_feature: Annotated[str, v.TEXT] = Field("messages", description="key of the conversation in IFT lines")
    prompt_feature: Annotated[str, v.TEXT] = Field("prompt", description="key of the prompt in prompt/completion lines")
    completion_feature: Annotated[str, v.TEXT] = Field(
        "completion", description="key of the completion in prompt/completion lines")
    resume_adapter_file: Annotated[str | None, v.PATH] = Field(
        None, description="start from these adapter weights (shapes are checked); for an exact resume use "
                          "--resume RUN_DIR")
    trust_remote_code: Annotated[bool, v.FLAG] = Field(
        False, description="allow model code from the model folder (off: safer)")
    clear_cache_threshold: Annotated[int, v.WHOLE_NUMBER] = Field(
        0, ge=0, le=2**63 - 1, description="free MLX's buffer cache when it exceeds this many bytes; 0 = never")
    # several machines
    distributed: Annotated[dict | None, v.MAPPING] = Field(
        None, description="data-parallel training on several machines: {hosts: [mac1, mac2] | hostfile: PATH, "
                          "backend: ring|mpi, port: 32323}; null = this machine only (docs/distributed.md)")
    #: unknown-but-tolerated keys from other tools (see IGNORED_KEYS), kept verbatim
    extra: dict = field(default_factory=dict)
    #: workspace the relative paths are resolved against (not written to YAML); None = current settings
    workspace: str | None = field(default=None, repr=False, compare=False)
    #: the file it was read from, named in error messages (not written to YAML)
    source: str | None = field(default=None, repr=False, compare=False)

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> "TrainingConfig":
        """Rules between fields, when ``from_dict`` passes the keys the file set (``context``)."""
        if info.context is None:
            return self
        explicit = info.context["explicit"]
        if problems := rule_problems(self, explicit):
            raise PydanticCustomError(RULES, "{problems}", {"problems": problems})
        args = self.lr_schedule_arguments
        if args and "learning_rate" not in explicit and isinstance(args[0], (int, float)) and args[0] > 0:
            self.learning_rate = float(args[0])  # mlx-lm's schedule arguments start with the learning rate
        return self

    # ------------------------------------------------------------------ derived values
    @property
    def is_ift(self) -> bool:
        return self.training_type == "ift"

    @property
    def is_preference(self) -> bool:
        """DPO or ORPO: trained on chosen/rejected pairs, not on rows of tokens."""
        return self.training_type in ("dpo", "orpo")

    @property
    def effective_train_on(self) -> str:
        """``train_on`` with ``mask_prompt`` folded in: CPT and ``mask_prompt: false`` train on everything."""
        if self.train_on is not None:
            return self.train_on
        if not self.is_ift or self.mask_prompt is False:
            return "all"
        return "assistant"

    @property
    def effective_mask_prompt(self) -> bool:
        return self.effective_train_on != "all"

    @property
    def effective_early_stopping(self) -> bool:
        return (self.training_type == "cpt") if self.early_stopping is None else bool(self.early_stopping)

    @property
    def effective_sample_every(self) -> int:
        return self.sample_every or self.steps_per_eval

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accumulation_steps

    def to_dict(self) -> dict:
        """Canonical key -> value for every field (plus tolerated extra keys)."""
        names = [n for n in type(self).__pydantic_fields__ if n not in INTERNAL]
        out = {n: getattr(self, n) for n in names if n != "max_iterations" or self.epochs is None}
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}
        out.update(self.extra)
        return out

    def to_yaml(self, comments: bool = True) -> str:
        """The config as YAML, one comment per key (its field description) under a line per group."""
        import yaml

        fields, starts = type(self).__pydantic_fields__, {first: name for name, first in GROUPS.items()}
        group_of, group = {}, None
        for name in fields:
            group = group_of[name] = starts.get(name, group)
        lines: list[str] = []
        shown = None
        for name, value in self.to_dict().items():
            if name not in fields:  # a tolerated extra key: written as it is, without a comment
                lines.append(_yaml_line(yaml, name, value, None))
                continue
            group = group_of[name]
            if group in OPTIONAL_GROUPS and not getattr(self, GROUPS[group]):
                continue  # an optional section: written only when set
            if comments and group != shown:
                shown = group
                lines.append(f"{'' if not lines else chr(10)}# --- {group}")
            lines.append(_yaml_line(yaml, name, value, (fields[name].description or "") if comments else None))
        return "\n".join(lines) + "\n"

    @property
    def lora_parameters(self) -> dict:
        params = {"rank": self.lora_rank, "scale": self.lora_scale, "dropout": self.lora_dropout}
        if self.lora_keys:
            params["keys"] = list(self.lora_keys)
        return params


def _yaml_line(yaml, name: str, value, comment: str | None) -> str:
    text = yaml.safe_dump({name: value}, default_flow_style=True, sort_keys=False, width=1000).strip()
    text = text[1:-1] if text.startswith("{") else text
    return text if comment is None else f"{text}  # {comment}"


#: fields that are not config keys (kept with the config, never read from or written to YAML)
INTERNAL = ("extra", "workspace", "source")
