"""Camera pitch from the ego lines' vanishing point, settled over a few seconds of driving.

Lines painted on a flat road are parallel, so their images meet on the horizon, whose row
says the pitch: a ray at the horizon is level, so ``tan(pitch) = (cy - v) / fy`` (the camera's
yaw against the road moves the point along the horizon, not off it). Each frame's two ego
lines are extended as straight lines through their near halves (the part of a bend that is
still nearly straight) to where they meet. One frame's estimate moves with every bump,
roll and curve, so :class:`PitchEstimator` keeps the last seconds of them and takes their
median once enough frames agree.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from lane_sad_core.geometry import pixel_rays

NEAR_PART = 0.5  # fraction of a line's rows, from its bottom, extended to the vanishing point
MIN_CONVERGENCE = 1e-3  # d(column)/d(row) difference below which two lines are taken as parallel


def _near_line(points_px: np.ndarray) -> tuple[float, float] | None:
    """(a, b) of u = a + b v through the lower ``NEAR_PART`` of a line's rows, or None."""
    raw = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    pts = raw[np.isfinite(raw).all(axis=1)]
    if len(pts) < 2:
        return None
    bottom, top = pts[:, 1].max(), pts[:, 1].min()
    near = pts[pts[:, 1] >= bottom - NEAR_PART * (bottom - top)]
    if len(near) < 2 or np.ptp(near[:, 1]) <= 0.0:
        return None
    b, a = np.polyfit(near[:, 1], near[:, 0], 1)
    return float(a), float(b)


def vanishing_point(left_px: np.ndarray, right_px: np.ndarray) -> tuple[float, float] | None:
    """Image (u, v) where the ego lines' near parts meet, or None when they do not meet above them.

    Args:
        left_px, right_px: (N, 2) pixel points of the lines left and right of the vehicle.
    """
    left, right = _near_line(left_px), _near_line(right_px)
    if left is None or right is None:
        return None
    (al, bl), (ar, br) = left, right
    if br - bl < MIN_CONVERGENCE:  # the lines do not close in going up the image
        return None
    v = (al - ar) / (br - bl)
    top = min(np.min(np.asarray(left_px)[:, 1]), np.min(np.asarray(right_px)[:, 1]))
    return (al + bl * v, v) if v < top else None


def pitch_from_vanishing_point(point_px: tuple[float, float], k: np.ndarray) -> float:
    """Downward pitch (radians) of a camera whose horizon passes through ``point_px``."""
    ray = pixel_rays(np.asarray([point_px]), k)[0]  # optical frame: x right, y down, z forward
    return math.atan2(-ray[1], ray[2])


def frame_pitch(left_px: np.ndarray, right_px: np.ndarray, k: np.ndarray) -> float | None:
    """One frame's pitch estimate from its ego lines, or None when they give none."""
    point = vanishing_point(left_px, right_px)
    return None if point is None else pitch_from_vanishing_point(point, k)


@dataclass(frozen=True)
class PitchSettings:
    """When the estimate counts as settled (the node's ``pitch_*`` parameters).

    Attributes:
        window: seconds of frames (by their stamps) the estimate is the median of.
        min_frames: frames within ``agreement`` of the median needed to settle; they must
            also be most of the window's frames.
        agreement: radians.
    """

    window: float = 3.0
    min_frames: int = 15
    agreement: float = math.radians(1.0)


class PitchEstimator:
    """Rolling median of per-frame pitch estimates; :attr:`value` is what the projection uses.

    :attr:`value` is None until the window first settles, then the median of every settled
    window; a window that stops agreeing (a lane change, a bumpy stretch) keeps the last
    settled value rather than dropping the ground projection.
    """

    def __init__(self, settings: PitchSettings) -> None:
        self.settings = settings
        self._samples: deque[tuple[float, float]] = deque()
        self.value: float | None = None
        self.settled = False

    def add(self, stamp: float, pitch: float | None) -> None:
        """One frame at ``stamp`` seconds with its estimate (None: the frame gave none).

        A stamp earlier than the last one (a bag looping, a restarted camera) restarts the window.
        """
        if self._samples and stamp < self._samples[-1][0]:
            self._samples.clear()
        if pitch is not None and math.isfinite(pitch):
            self._samples.append((stamp, pitch))
        while self._samples and self._samples[0][0] < stamp - self.settings.window:
            self._samples.popleft()
        self._update()

    def _update(self) -> None:
        estimates = np.array([p for _, p in self._samples])
        median = self.estimate
        agreeing = int(np.sum(np.abs(estimates - median) <= self.settings.agreement)) if len(estimates) else 0
        self.settled = agreeing >= self.settings.min_frames and 2 * agreeing > len(estimates)
        if self.settled:
            self.value = median

    @property
    def estimate(self) -> float:
        """The median of the window's estimates (NaN when it holds none)."""
        return float(np.median([p for _, p in self._samples])) if self._samples else math.nan

    @property
    def frames(self) -> int:
        """Estimates in the window."""
        return len(self._samples)
