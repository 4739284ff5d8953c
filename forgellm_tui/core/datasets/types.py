"""Options and results of dataset preparation (shared by the CPT and IFT paths)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from forgellm_tui.core.datasets.io import SkippedFile
from forgellm_tui.core.errors import DataError

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


@dataclass
class PrepareOptions:
    kind: str  # "cpt" | "ift"
    dataset_dir: Path
    output_dir: Path
    model_path: Path | None = None
    target_tokens: int = 512
    valid_fraction: float = 0.1
    seed: int = 42
    mix_ratio: float = 0.8  # domain share of CPT tokens; general share = 1 - mix_ratio; 1.0 = no general text
    general_dir: Path | None = None  # default <dataset_dir>/general
    ift_input: Path | None = None  # file or folder of JSONL; default <dataset_dir>/ift
    exclude: tuple[str, ...] = ("general", "ift")  # top-level folders that are not CPT domain text
    tokenizer: object = None  # an already loaded tokenizer (wins over model_path)

    def __post_init__(self) -> None:
        self.dataset_dir = Path(self.dataset_dir).expanduser()
        self.output_dir = Path(self.output_dir).expanduser()
        if self.model_path is not None:
            self.model_path = Path(self.model_path).expanduser()
        if self.general_dir is not None:
            self.general_dir = Path(self.general_dir).expanduser()
        if self.ift_input is not None:
            self.ift_input = Path(self.ift_input).expanduser()
        self.exclude = tuple(self.exclude)

    def validate(self) -> None:
        if self.kind not in ("cpt", "ift"):
            raise DataError(f"unknown kind {self.kind!r}", hint="use cpt or ift")
        if int(self.target_tokens) < 8:
            raise DataError(f"target_tokens {self.target_tokens} is too small", hint="use at least 8 (e.g. 512)")
        if not 0.0 <= float(self.valid_fraction) < 1.0:
            raise DataError(f"valid_fraction {self.valid_fraction} is out of range", hint="use 0 <= f < 1 (e.g. 0.1)")
        if not 0.0 < float(self.mix_ratio) <= 1.0:
            raise DataError(f"mix_ratio {self.mix_ratio} is out of range",
                            hint="use 0 < r <= 1: the domain share (0.8 = 80% domain, 20% general; 1 = none)")

    @property
    def general_path(self) -> Path:
        return self.general_dir or self.dataset_dir / "general"

    @property
    def ift_path(self) -> Path:
        return self.ift_input or self.dataset_dir / "ift"

    def settings(self) -> dict:
        """What the manifest records (and what decides whether a preparation can be reused)."""
        base = {"kind": self.kind, "dataset_dir": str(self.dataset_dir), "valid_fraction": float(self.valid_fraction),
                "seed": int(self.seed)}
        if self.kind == "cpt":
            base.update(target_tokens=int(self.target_tokens), mix_ratio=float(self.mix_ratio),
                        general_dir=str(self.general_path), exclude=list(self.exclude))
        else:
            base.update(ift_input=str(self.ift_path))
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
    general_records: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    tokenizer_used: str = ""
    general_tokens: int = 0
    bad_line_count: int = 0  # all bad lines; ``bad_lines`` keeps the first MAX_BAD_LINES
    warnings: list[str] = field(default_factory=list)
    row_overhead: int = 1  # tokens mlx-lm adds to each text row (BOS the tokenizer adds + EOS)
    seconds: float = 0.0

    @property
    def general_share(self) -> float:
        total = self.train_tokens + self.valid_tokens
        return self.general_tokens / total if total else 0.0

    @property
    def problems(self) -> int:
        return len(self.skipped) + self.bad_line_count
