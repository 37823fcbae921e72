"""Paired comparison of two methods' F1 with a bootstrap confidence interval.

A method and its baseline are trained from the same weights on the same batches for each
seed, then scored on the same frames. Their difference therefore varies for two reasons
only: which seeds were run and which frames were scored. The interval here resamples
both (a two-level bootstrap): seeds with replacement, and, inside that draw, frames with
replacement, the same frames for both methods and every seed, so that the pairing is kept
at both levels. F1 is computed from the counts summed over the drawn frames, as CULane's
tool computes it over a list, not averaged per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lane_sad_core.errors import ConfigError


@dataclass(frozen=True)
class PairedEffect:
    """A method's F1 minus its baseline's, in F1 points (0-100), with its interval.

    Attributes:
        mean: the mean over seeds of the per-seed difference.
        low, high: the two-sided bootstrap percentile interval.
        level: the interval's coverage, e.g. 0.95.
        seeds, frames: how many of each went in.
    """

    mean: float
    low: float
    high: float
    level: float
    seeds: int
    frames: int

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def f1_points(counts: np.ndarray) -> np.ndarray:
    """F1 x 100 from counts summed over the second-to-last axis.

    Args:
        counts: (..., frames, 3) true positives, false positives, false negatives.

    Returns:
        (...) F1 in points; 0 where there are no true positives.
    """
    tp, fp, fn = np.moveaxis(counts.sum(axis=-2), -1, 0).astype(np.float64)
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 200.0 * tp / np.maximum(denom, 1), 0.0)


def paired_effect(
    baseline: np.ndarray, method: np.ndarray, draws: int = 2000, level: float = 0.95, seed: int = 0
) -> PairedEffect:
    """The paired F1 difference ``method - baseline`` with a two-level bootstrap interval.

    Args:
        baseline, method: (seeds, frames, 3) per-frame TP/FP/FN counts; row s of both
            comes from the runs of seed s, column f from the same frame.
        draws: bootstrap resamples.
        level: coverage of the interval.
        seed: the resampling's random seed (the interval is reproducible).

    Raises:
        ConfigError: the arrays do not pair up.
    """
    if baseline.shape != method.shape or baseline.ndim != 3 or baseline.shape[-1] != 3:
        raise ConfigError(f"paired counts must both be (seeds, frames, 3), got {baseline.shape} and {method.shape}")
    seeds, frames, _ = baseline.shape
    diff = f1_points(method) - f1_points(baseline)
    rng = np.random.default_rng(seed)
    stats = np.empty(draws)
    for d in range(draws):
        s = rng.integers(0, seeds, seeds)
        f = rng.integers(0, frames, frames)
        stats[d] = np.mean(f1_points(method[s][:, f]) - f1_points(baseline[s][:, f]))
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return PairedEffect(float(diff.mean()), float(low), float(high), level, seeds, frames)
