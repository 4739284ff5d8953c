"""Options and results of dataset preparation (shared by the CPT, IFT and preference paths)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as checked_dataclass

from forgellm_tui.core.datasets.io import SkippedFile
from forgellm_tui.core.errors import DataError, first_invalid

Progress = Callable[[int, int, str], None]
MANIFEST_FORMAT = "forgellm-prepared-data"
MANIFEST_VERSION = 1


class PrepareCancelled(DataError):
    """The user cancelled; nothing was written (the output folder is built under a temp name)."""

    def __init__(self) -> None:
        super().__init__("preparation cancelled — nothing was written")


@dataclass
class BadLine:
    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def _expand(path: Path) -> Path:
    return path.expanduser()


UserPath = Annotated[Path, AfterValidator(_expand)]
#: messages for a value out of range: field -> (problem, fix)
_PROBLEMS = {
    "kind": ("unknown kind {value!r}", "use cpt, ift or preference"),
    "target_tokens": ("target_tokens {value} is too small", "use at least 8 (e.g. 512)"),
    "valid_fraction": ("valid_fraction {value} is out of range", "use 0 <= f < 1 (e.g. 0.1)"),
    "test_fraction": ("test_fraction {value} is out of range", "use 0 <= f < 1 (e.g. 0.05; 0 = no test split)"),
    "mix_ratio": ("mix_ratio {value} is out of range",
                  "use 0 < r <= 1: the domain share (0.8 = 80% domain, 20% general; 1 = none)"),
}


# defer_build: the validator is built when the first one is made, not when the app starts
@checked_dataclass(config=ConfigDict(extra="forbid", defer_build=True))
class PrepareOptions:
    """What to prepare and how; checked when made (DataError naming the value and the fix)."""

    kind: Literal["cpt", "ift", "preference"] = Field(
        description="cpt: text cut into rows; ift: conversations; preference: chosen/rejected answer pairs")
    dataset_dir: UserPath = Field(description="the dataset folder (CPT text by category, general/, ift/)")
    output_dir: UserPath = Field(description="the prepared data folder to write")
    model_path: UserPath | None = Field(None, description="model whose tokenizer counts the tokens")
    target_tokens: int = Field(512, ge=8, description="CPT: tokens per row, before mlx-lm adds its own")
    valid_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="share of the data held out for validation")
    # 0 here keeps every caller that does not ask for a test split exactly as before; the CLI asks for 0.05
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="share held out for the final test (0 = none)")
    seed: int = Field(42, description="random seed of the split and of the mix")
    mix_ratio: float = Field(0.8, gt=0.0, le=1.0, description="CPT: domain share of the tokens; general text gets "
                                                              "the rest (1 - mix_ratio); 1.0 = no general text")
    general_dir: UserPath | None = Field(None, description="general text folder (default <dataset_dir>/general)")
    ift_input: UserPath | None = Field(None, description="IFT: JSONL file or folder (default <dataset_dir>/ift)")
    preference_input: UserPath | None = Field(
        None, description="preference: JSONL file or folder (default <dataset_dir>/preference)")
    exclude: tuple[str, ...] = Field(("general", "ift", "preference"),
                                     description="top-level folders that are not CPT domain text")
    tokenizer: Any = Field(None, description="an already loaded tokenizer (wins over model_path)")

    @model_validator(mode="wrap")
    @classmethod
    def _one_line(cls, data: Any, handler) -> "PrepareOptions":
        try:
            made = handler(data)
        except ValidationError as exc:
            name, value = first_invalid(cls, exc)
            problem, fix = _PROBLEMS.get(name, ("invalid " + name + ": {value!r}", None))
            raise DataError(problem.format(value=value), hint=fix) from None
        if made.valid_fraction + made.test_fraction >= 1.0:
            raise DataError(f"valid_fraction {made.valid_fraction} + test_fraction {made.test_fraction} leave no "
                            "training data", hint="keep their sum below 1 (e.g. 0.1 and 0.05)")
        return made

    def validate(self) -> None:
        """Check values changed since it was made (DataError naming the first bad one)."""
        type(self)(**{f.name: getattr(self, f.name) for f in fields(self)})

    @property
    def general_path(self) -> Path:
        return self.general_dir or self.dataset_dir / "general"

    @property
    def ift_path(self) -> Path:
        return self.ift_input or self.dataset_dir / "ift"

    @property
    def preference_path(self) -> Path:
        return self.preference_input or self.dataset_dir / "preference"

    def settings(self) -> dict:
        """What the manifest records (and what decides whether a preparation can be reused)."""
        base = {"kind": self.kind, "dataset_dir": str(self.dataset_dir), "valid_fraction": float(self.valid_fraction),
                "seed": int(self.seed)}
        if self.kind == "cpt":
            base.update(target_tokens=int(self.target_tokens), mix_ratio=float(self.mix_ratio),
                        general_dir=str(self.general_path), exclude=list(self.exclude))
        elif self.kind == "preference":
            base.update(preference_input=str(self.preference_path))
        else:
            base.update(ift_input=str(self.ift_path))
        if self.test_fraction > 0:  # only then: data prepared without a test split stays reusable as it was
            base["test_fraction"] = float(self.test_fraction)
        return base


@dataclass
class PrepareResult:
    output_dir: Path
    kind: str
    documents: int = 0
    train_records: int = 0
    valid_records: int = 0
    train_tokens: int = 0
    valid_tokens: int = 0
    test_records: int = 0
    test_tokens: int = 0
    general_records: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    tokenizer_used: str = ""
    general_tokens: int = 0
    bad_line_count: int = 0  # all bad lines; ``bad_lines`` keeps the first MAX_BAD_LINES
    warnings: list[str] = field(default_factory=list)
    row_overhead: int = 1  # tokens mlx-lm adds to each text row (BOS the tokenizer adds + EOS)
    seconds: float = 0.0
    #: IFT with a model that has a chat template: per split, ``Supervision.as_dict()`` (what the loss sees)
    supervision: dict[str, dict] = field(default_factory=dict)
    supervision_length: int = 0  # the max_seq_length the ``lost`` counts assume
    #: preference data: per split, ``{"pairs", "prompt_tokens", "chosen_tokens", "rejected_tokens"}``
    pair_tokens: dict[str, dict] = field(default_factory=dict)

    @property
    def general_share(self) -> float:
        total = self.train_tokens + self.valid_tokens + self.test_tokens
        return self.general_tokens / total if total else 0.0

    @property
    def problems(self) -> int:
        return len(self.skipped) + self.bad_line_count
