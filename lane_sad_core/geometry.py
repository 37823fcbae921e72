"""Flat-ground projection of image points, for lanes in metres.

A camera at height ``h`` above a flat road, pitched down by ``pitch`` radians, with
intrinsics ``K``. A pixel's viewing ray meets the road where its downward component has
travelled ``h``. Results are in a ground frame under the camera following ROS REP 103:
x forward, y left, z up (z = 0 on the road).
"""

from __future__ import annotations

import numpy as np

MAX_FOCAL_PX = 1e6  # beyond any real lens and sensor; such a K projects every point to ~0 m


def intrinsics_problem(k: np.ndarray) -> str | None:
    """Why ``k`` cannot be a camera matrix, or None when it can.

    A camera driver that sends a K with an inf, a NaN or a zero focal length (an
    uncalibrated camera sends all zeros) would turn every ground point into NaN.
    """
    k = np.asarray(k, dtype=np.float64).reshape(3, 3)
    if not np.isfinite(k).all():
        return "K has non-finite entries"
    if not (0 < k[0, 0] <= MAX_FOCAL_PX and 0 < k[1, 1] <= MAX_FOCAL_PX):
        return f"focal lengths fx={k[0, 0]:g}, fy={k[1, 1]:g} outside (0, {MAX_FOCAL_PX:g}] px"
    if np.abs(k[:2, 1:]).max() > MAX_FOCAL_PX or not np.array_equal(k[2], [0.0, 0.0, 1.0]):
        return f"not a camera matrix (K = {k.ravel().tolist()})"
    return None


def pixel_rays(points_px: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(N, 2) pixels to (N, 3) viewing rays in the optical frame (x right, y down, z forward)."""
    pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    homog = np.column_stack([pts, np.ones(len(pts))])
    return homog @ np.linalg.inv(np.asarray(k, dtype=np.float64).reshape(3, 3)).T


def project_to_ground(points_px: np.ndarray, k: np.ndarray, height: float, pitch: float) -> np.ndarray:
    """Pixels to (N, 3) ground points in metres; rows above the horizon become NaN.

    Args:
        points_px: (N, 2) pixel coordinates (x, y) in the image ``k`` describes.
        k: 3x3 camera matrix (``sensor_msgs/CameraInfo.k``).
        height: camera height above the road, metres (> 0).
        pitch: downward tilt of the optical axis, radians.
    """
    rays = pixel_rays(points_px, k)
    c, s = np.cos(pitch), np.sin(pitch)
    # Un-tilt: a level optical frame where y points straight down.
    level = rays @ np.array([[1, 0, 0], [0, c, s], [0, -s, c]]).T
    down = level[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(down > 1e-9, height / down, np.nan)
    hit = level * t[:, None]
    return np.column_stack([hit[:, 2], -hit[:, 0], np.zeros(len(hit))])
