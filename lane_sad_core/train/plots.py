"""Training curves as a PNG (matplotlib without a display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NOT_CURVES = {"iteration", "lr", "seconds"}
VAL_PREFIX = "val_"


def plot_curves(rows: Sequence[dict], out: Path) -> None:
    """Loss terms (log scale) and learning rate against iteration."""
    if not rows:
        return
    its = [int(r["iteration"]) for r in rows]
    keys = list(dict.fromkeys(k for r in rows for k in r if k not in NOT_CURVES))
    fig, (ax_loss, ax_val, ax_lr) = plt.subplots(
        3, 1, figsize=(8, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    for key in keys:
        pts = [(i, float(r[key])) for i, r in zip(its, rows) if r.get(key) not in (None, "")]
        if key.startswith(VAL_PREFIX):
            if pts:
                ax_val.plot(*zip(*pts), marker="o", label=key[len(VAL_PREFIX) :])
        elif pts and all(v > 0 for _, v in pts):
            ax_loss.plot(*zip(*pts), label=key)
    ax_val.set_ylabel("validation")
    ax_val.set_ylim(0, 1)
    ax_val.grid(alpha=0.3)
    if ax_val.lines:
        ax_val.legend(fontsize=8)
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
