"""Radial lens distortion, applied to the pixels and to the labels alike.

A real lens bends straight lines: barrel distortion (wide dash-camera lenses, ``k1 < 0``)
bows them outwards, pincushion (``k1 > 0``) inwards. The scene is drawn through the
pinhole camera, then resampled once with :meth:`RadialLens.source_map`; the label
polylines go through :meth:`RadialLens.distort`, the same function forwards, so a label
point lands where its pixel went.

Model (Brown's first radial term, normalised coordinates ``q = (p - c) / f``): the
undistorted point ``q`` is seen at ``D(zoom * q)`` with ``D(q) = q (1 + k1 |q|^2)``.
``zoom`` (>= 1) is the smallest that still fills the corners with scene, as a camera's
undistortion crop would: barrel distortion pulls the frame's corners in, and without it
they would sample outside the drawn image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.synth.camera import Camera

_TABLE = 512  # samples of the radius lookup table


@dataclass(frozen=True)
class RadialLens:
    """A lens with one radial coefficient.

    Attributes:
        k1: radial coefficient (0 = a pinhole; negative = barrel).
    """

    k1: float

    def fold_radius(self) -> float:
        """Normalised radius where ``r (1 + k1 r^2)`` stops growing (barrel only), else inf."""
        return float(np.sqrt(-1.0 / (3.0 * self.k1))) if self.k1 < 0 else float("inf")

    def zoom(self, cam: Camera) -> float:
        """The smallest zoom >= 1 that maps the farthest image corner inside the drawn image."""
        corner = _corner_radius(cam)
        return max(1.0, self._undistort_radius(np.array([corner]))[0] / corner)

    def distort(self, points: np.ndarray, cam: Camera) -> np.ndarray:
        """(N, 2) pinhole pixels -> where this lens shows them, for camera ``cam``'s image."""
        c = np.array([cam.cx, cam.cy])
        q = (np.asarray(points, float) - c) / cam.focal * self.zoom(cam)
        r2 = np.sum(q * q, axis=1, keepdims=True)
        return c + cam.focal * q * (1.0 + self.k1 * r2)

    def valid(self, points: np.ndarray, cam: Camera) -> np.ndarray:
        """(N,) True for points inside the radius where the model is one-to-one."""
        c = np.array([cam.cx, cam.cy])
        r = np.hypot(*((np.asarray(points, float) - c) / cam.focal * self.zoom(cam)).T)
        return r < 0.95 * self.fold_radius()

    def source_map(self, cam: Camera) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-point maps for ``cv2.remap``: for each output pixel, the pinhole pixel it shows."""
        u = (np.arange(cam.width, dtype=np.float32) - cam.cx) / cam.focal
        v = (np.arange(cam.height, dtype=np.float32) - cam.cy) / cam.focal
        rd = np.sqrt(u[None, :] ** 2 + v[:, None] ** 2)
        ratio = self._undistort_radius(rd) / np.maximum(rd, 1e-9) / self.zoom(cam)
        map_x = (cam.cx + cam.focal * u[None, :] * ratio).astype(np.float32)
        map_y = (cam.cy + cam.focal * v[:, None] * ratio).astype(np.float32)
        return cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)

    def _undistort_radius(self, rd: np.ndarray) -> np.ndarray:
        """Inverse of ``r (1 + k1 r^2)`` by table lookup (monotonic below the fold)."""
        limit = min(self.fold_radius(), 4.0)
        r = np.linspace(0.0, limit, _TABLE)
        return np.interp(rd, r * (1.0 + self.k1 * r * r), r).astype(np.asarray(rd).dtype)


def _corner_radius(cam: Camera) -> float:
    """Normalised radius of the image corner farthest from the principal point."""
    dx = max(cam.cx + 0.5, cam.width - 0.5 - cam.cx)
    dy = max(cam.cy + 0.5, cam.height - 0.5 - cam.cy)
    return float(np.hypot(dx, dy) / cam.focal)


def sample_lens(rng: np.random.Generator, k1: tuple[float, float]) -> RadialLens:
    """A lens with ``k1`` drawn from the range, rounded to 0.01 so renderers can cache maps."""
    return RadialLens(round(float(rng.uniform(*k1)), 2))
