"""The one lane type shared by data loaders, metrics, post-processing and the ROS node.

A lane is a polyline in *source image* pixel coordinates, ordered from the bottom of the
image upwards, plus the slot it occupies (CULane's 4 slots, left to right) and how sure
the model is that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Lane:
    """One lane boundary.

    Attributes:
        points: (N, 2) float array of (x, y) pixels in the source image.
        slot: lane slot index (0-based, left to right), -1 when unknown.
        existence: probability that the lane exists, in [0, 1].
        confidence: optional (N,) per-point confidence, empty when not known.
    """

    points: np.ndarray
    slot: int = -1
    existence: float = 1.0
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)

    def __len__(self) -> int:
        return len(self.points)

    def x_at(self, rows: np.ndarray) -> np.ndarray:
        """The lane's column at ``rows``, linearly interpolated between its points; NaN outside its rows."""
        rows = np.asarray(rows, dtype=np.float64)
        if len(self.points) == 0:
            return np.full(rows.shape, np.nan)
        order = np.argsort(self.points[:, 1])
        y, x = self.points[order, 1], self.points[order, 0]
        return np.where((rows >= y[0]) & (rows <= y[-1]), np.interp(rows, y, x), np.nan)
