"""Training curves as a PNG (matplotlib without a display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NOT_CURVES = {"iteration", "lr", "seconds"}


def plot_curves(rows: Sequence[dict], out: Path) -> None:
    """Loss terms (log scale) and learning rate against iteration."""
    if not rows:
        return
    its = [int(r["iteration"]) for r in rows]
    keys = [k for k in rows[-1] if k not in NOT_CURVES]
    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    for key in keys:
        pts = [(i, float(r[key])) for i, r in zip(its, rows) if r.get(key) not in (None, "")]
        if pts and all(v > 0 for _, v in pts):
            ax_loss.plot(*zip(*pts), label=key)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=8)
    ax_loss.grid(alpha=0.3)
    ax_lr.plot(its, [float(r["lr"]) for r in rows], color="gray")
    ax_lr.set_ylabel("lr")
    ax_lr.set_xlabel("iteration")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
