"""What a metrics record summarises: the report window (losses, tokens, time) and the learning rate."""

from __future__ import annotations


class Window:
    """Training losses, tokens and time since the last report.

    A report averages the steps since the previous one; a checkpoint saved between two reports keeps
    those steps' losses (``state``), so a resumed run reports exactly what the uninterrupted one did.
    """

    def __init__(self):
        self.losses: list[float] = []
        self.tokens = 0
        self.seconds = 0.0
        self.last_tps: float | None = None
        self.last_norm: float | None = None
        self.metrics: dict[str, list[float]] = {}  # the objective's extra metrics per step (DPO, ORPO)

    def add(self, loss: float | None, tokens: int, seconds: float, norm: float, metrics: dict | None = None) -> None:
        """``loss`` None: the step had no loss-bearing token (it counts for time, not for the mean)."""
        if loss is not None:
            self.losses.append(loss)
            for name, value in (metrics or {}).items():
                self.metrics.setdefault(name, []).append(value)
        self.tokens += tokens
        self.seconds += seconds
        self.last_norm = norm

    def state(self) -> dict:
        """What a checkpoint keeps so a resumed run's next report averages the same steps."""
        state = {"losses": list(self.losses), "tokens": self.tokens}
        if self.metrics:
            state["metrics"] = {name: list(values) for name, values in self.metrics.items()}
        return state

    def load(self, state: dict | None) -> None:
        if not isinstance(state, dict):
            return
        self.losses = [float(x) for x in state.get("losses") or []]
        self.tokens = int(state.get("tokens") or 0)
        metrics = state.get("metrics")
        self.metrics = ({str(k): [float(x) for x in v] for k, v in metrics.items() if isinstance(v, list)}
                        if isinstance(metrics, dict) else {})

    def take_metrics(self) -> dict[str, float]:
        """The mean of each extra metric over the window's steps (then the window forgets them)."""
        means = {name: sum(values) / len(values) for name, values in self.metrics.items() if values}
        self.metrics = {}
        return means

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
