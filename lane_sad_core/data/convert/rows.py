"""Polylines to CULane's rows: x at y = H, H - step, H - 2 step, ... (step 10 in CULane).

Every converted lane is sampled on that grid, whatever the source drew (a few clicked
vertices, Bezier curves, TuSimple's h_samples, mask rows), so converted labels look like
CULane's own: points 10 px apart from the bottom upwards, where straight segments between
points stay within a pixel of the labelled curve. Sources on the same grid (TuSimple at
720 px: h_samples 160..710 step 10) keep their points exactly.
"""

from __future__ import annotations

import numpy as np


def row_grid(height: int, step: float) -> np.ndarray:
    """The label rows of a frame ``height`` px tall, bottom first: H, H - step, ... >= 0."""
    return np.arange(float(height), -1e-9, -float(step))


def bottom_up(points: np.ndarray) -> tuple[np.ndarray, bool]:
    """The polyline from its lower end, cut where it first turns back in y.

    A lane line is a function x(y); a polyline whose y goes back (a slip of the annotator,
    a U-turn of the mask tracker) cannot be sampled per row. Returns the longest prefix
    from the lower end whose y never increases, and whether anything was cut.
    """
    pts = points if points[0, 1] >= points[-1, 1] else points[::-1]
    rises = np.flatnonzero(np.diff(pts[:, 1]) > 0)
    if len(rises) == 0:
        return pts, False
    return pts[: rises[0] + 1], True


def resample_rows(points: np.ndarray, height: int, step: float) -> np.ndarray:
    """(M, 2) points of the polyline at the grid rows it spans, bottom first.

    ``points`` must already be ordered bottom-up with non-increasing y (:func:`bottom_up`);
    rows outside its y range are not extrapolated.
    """
    ys_src, xs_src = points[::-1, 1], points[::-1, 0]
    ys_src, first = np.unique(ys_src, return_index=True)  # increasing, one x per y
    xs_src = xs_src[first]
    grid = row_grid(height, step)
    grid = grid[(grid >= ys_src[0] - 1e-6) & (grid <= ys_src[-1] + 1e-6)]
    if len(ys_src) == 1:
        return np.stack([np.full(len(grid), xs_src[0]), grid], axis=1)
    return np.stack([np.interp(grid, ys_src, xs_src), grid], axis=1)
