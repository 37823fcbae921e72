"""A robust curve x(y) through one lane's per-row points: outlier rows out, a smooth curve through the rest.

The per-row argmax of a lane's probability map is right on most rows, but a row here and
there jumps to a car's edge, a shadow or the neighbouring marking, and a polyline through
every point kinks there. A least-squares curve would be dragged towards those rows, so the
fit is RANSAC-like: straight-line hypotheses through pairs of points, the one that most
confident points agree with (within ``tolerance`` pixels) wins, and a low-order polynomial
is then refitted on the agreeing points until they stop changing (the refit lets a curved
lane's far end join a consensus found on its straight near part).

Deterministic: the pairs come from a fixed table of draws, so the same points give the
same curve (a node's output must not change between two runs of a bag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HYPOTHESES = 64  # straight-line hypotheses per lane (all pairs when there are fewer)
REFITS = 4  # polynomial refits on the consensus set, at most
_DRAWS = np.random.default_rng(0).random((2, HYPOTHESES))  # the pairs' fixed draws, scaled to each lane's N


@dataclass(frozen=True)
class CurveFit:
    """A fitted curve x(y) and the points it was fitted on.

    Attributes:
        coef: polynomial coefficients in ``t = (y - center) / scale``, highest power first
            (``numpy.polyval`` order).
        center: the normalisation's centre row.
        scale: the normalisation's scale (rows).
        inliers: (N,) bool mask of the input points the curve agrees with.
    """

    coef: np.ndarray
    center: float
    scale: float
    inliers: np.ndarray

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """x at rows ``y``."""
        return np.polyval(self.coef, (np.asarray(y, dtype=np.float64) - self.center) / self.scale)

    def slope(self, y: float) -> float:
        """dx/dy at row ``y``."""
        return float(np.polyval(np.polyder(self.coef), (y - self.center) / self.scale)) / self.scale


def fit_lane_curve(
    y: np.ndarray, x: np.ndarray, weight: np.ndarray, tolerance: float, degree: int = 2
) -> CurveFit | None:
    """Fit x(y) to points with outlier rows rejected.

    Args:
        y: (N,) rows of the points (distinct).
        x: (N,) columns.
        weight: (N,) confidence of each point (> 0); the consensus is the one with the most
            total weight, and the refits are weighted least squares.
        tolerance: a point agrees with a curve when its column is within this many pixels.
        degree: polynomial degree of the final curve (lowered when there are few inliers).

    Returns:
        The curve, or None with fewer than two points.
    """
    y, x, weight = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (y, x, weight))
    if len(y) < 2:
        return None
    center, scale = float(y.mean()), max(float(np.ptp(y)) / 2.0, 1.0)
    t = (y - center) / scale
    inliers = _best_line_consensus(t, x, weight, tolerance)
    powers = np.vander(t, degree + 1)  # t^degree ... t^0, numpy.polyval's order
    root_weight = np.sqrt(weight)
    coef = np.zeros(1)
    for _ in range(REFITS):
        coef = _weighted_polyfit(powers[inliers], x[inliers], root_weight[inliers])
        agree = np.abs(powers[:, -len(coef) :] @ coef - x) <= tolerance
        if agree.sum() < 2 or np.array_equal(agree, inliers):
            break
        inliers = agree
    return CurveFit(coef, center, scale, inliers)


def _best_line_consensus(t: np.ndarray, x: np.ndarray, weight: np.ndarray, tolerance: float) -> np.ndarray:
    """Inlier mask of the straight line through two points that the most weight agrees with."""
    n = len(t)
    if n * (n - 1) // 2 <= HYPOTHESES:
        i, j = np.triu_indices(n, 1)
    else:
        i = (_DRAWS[0] * n).astype(np.intp)
        j = (i + 1 + (_DRAWS[1] * (n - 1)).astype(np.intp)) % n  # never i itself
    slope = (x[j] - x[i]) / (t[j] - t[i])
    residual = np.abs(x[i][:, None] + slope[:, None] * (t[None, :] - t[i][:, None]) - x[None, :])
    agree = residual <= tolerance  # (hypotheses, N)
    return agree[int(np.argmax(agree @ weight))]


def _weighted_polyfit(powers: np.ndarray, x: np.ndarray, root_weight: np.ndarray) -> np.ndarray:
    """Weighted least-squares polynomial on (N, degree + 1) powers; the degree drops to keep a point spare.

    Two points give their line; a curve of degree d needs d + 2 points, so that a curve is
    never bent through every point of a short run. Returns coefficients, highest power first.
    """
    terms = min(powers.shape[1], max(2, len(x) - 1))
    a, b = powers[:, -terms:] * root_weight[:, None], x * root_weight
    # The normal equations: a (terms x terms) solve, 4x faster than lstsq's SVD for these tiny
    # systems, and well conditioned (t is scaled to [-1, 1], rows are distinct, weights > 0).
    return np.linalg.solve(a.T @ a, a.T @ b)
