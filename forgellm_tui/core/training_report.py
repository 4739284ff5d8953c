"""What a metrics record summarises: the report window (losses, tokens, time) and the learning rate."""

from __future__ import annotations


class Window:
    """Training losses, tokens and time since the last report."""

    def __init__(self):
        self.losses: list[float] = []
        self.tokens = 0
        self.seconds = 0.0
        self.last_tps: float | None = None
        self.last_norm: float | None = None

    def add(self, loss: float, tokens: int, seconds: float, norm: float) -> None:
        self.losses.append(loss)
        self.tokens += tokens
        self.seconds += seconds
        self.last_norm = norm

    def take(self) -> tuple[float | None, float | None, float | None]:
        if not self.losses:
            return None, self.last_tps, self.last_norm
        loss = sum(self.losses) / len(self.losses)
        self.last_tps = round(self.tokens / self.seconds, 1) if self.seconds > 0 else None
        self.losses, self.tokens, self.seconds = [], 0, 0.0
        return loss, self.last_tps, self.last_norm


def last_learning_rate(opt) -> float:
    """The learning rate of the last update (mlx stores schedule(step - 1) after an update)."""
    try:
        return float(opt.learning_rate.item())
    except Exception:  # noqa: BLE001 - optimizers without a learning rate (adafactor relative step)
        return 0.0
