"""``dashboard.png``: a real image of a run's training curves (matplotlib, headless Agg backend)."""

from __future__ import annotations

import io
from pathlib import Path

from forgellm_tui.core import fsio
from forgellm_tui.core.runs import split_series


def render_dashboard(records: list[dict], title: str, marked_iteration: int | None = None,
                     note: str | None = None) -> bytes:
    """PNG bytes with four panels: loss/validation, learning rate, throughput, generalisation gap.

    ``note`` is a line printed under the panels (a quantized model's size and perplexity change).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    train, val = split_series(records)
    fig = Figure(figsize=(11, 7), dpi=100)
    fig.suptitle(title)
    ax_loss, ax_lr, ax_tps, ax_gap = (fig.add_subplot(2, 2, i) for i in range(1, 5))

    if train:
        ax_loss.plot(*zip(*train), label="training", color="#1f77b4", linewidth=1)
    if val:
        ax_loss.plot(*zip(*val), "o-", label="validation", color="#d62728", markersize=3)
        best_it, best_v = min(val, key=lambda p: p[1])
        ax_loss.scatter([best_it], [best_v], marker="*", s=160, color="#2ca02c", zorder=5, label="best validation")
    if marked_iteration is not None and marked_iteration >= 0:
        ax_loss.axvline(marked_iteration, color="#7f7f7f", linestyle="--", linewidth=1, label="published")
    ax_loss.set(title="Loss", xlabel="iteration", ylabel="loss")
    if ax_loss.get_legend_handles_labels()[0]:  # a model without a run has no curves to label
        ax_loss.legend(fontsize=8)

    def series(key: str) -> list[tuple[int, float]]:
        return [(r["iteration"], float(r[key])) for r in records
                if isinstance(r.get("iteration"), int) and isinstance(r.get(key), (int, float))]

    lr = series("learning_rate")
    if lr:
        ax_lr.plot(*zip(*lr), color="#9467bd")
    ax_lr.set(title="Learning rate", xlabel="iteration")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))

    tps = series("tokens_per_second")
    if tps:
        ax_tps.plot(*zip(*tps), color="#ff7f0e")
    ax_tps.set(title="Throughput", xlabel="iteration", ylabel="tokens/s")

    train_map = dict(train)
    gap = []
    for it, v in val:
        before = [t for i, t in train if i <= it][-5:] or ([train_map[it]] if it in train_map else [])
        if before:
            gap.append((it, v - sum(before) / len(before)))
    if gap:
        ax_gap.plot(*zip(*gap), "o-", color="#8c564b", markersize=3)
        ax_gap.axhline(0, color="#7f7f7f", linewidth=0.8)
    ax_gap.set(title="Generalisation gap (val - train)", xlabel="iteration")

    for ax in (ax_loss, ax_lr, ax_tps, ax_gap):
        ax.grid(alpha=0.3)
        if not ax.lines and not ax.collections:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#7f7f7f")
    if note:
        fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=10)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    else:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_dashboard(path: str | Path, records: list[dict], title: str, marked_iteration: int | None = None) -> Path:
    return fsio.atomic_write_bytes(path, render_dashboard(records, title, marked_iteration))
