"""Pinhole camera over a flat road: projection, horizon and per-row ground distances.

Vehicle frame: X to the right, Y down, Z forward, origin at the camera; the road is the
plane Y = ``mount_height``. The camera is pitched (positive looks down) and rolled about
its optical axis; yaw is left to the road geometry (a heading term of the centreline).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

NEAR_DEPTH = 0.3  # metres; points closer to the image plane are not projected


@dataclass(frozen=True)
class Camera:
    """Intrinsics (square pixels) and mounting of the camera.

    Attributes:
        width, height: image size in pixels.
        focal: focal length in pixels.
        cx, cy: principal point in pixels.
        mount_height: camera height above the road, metres.
        pitch: downward tilt, radians.
        roll: rotation about the optical axis, radians (positive turns the scene clockwise
            in the image).
    """

    width: int
    height: int
    focal: float
    cx: float
    cy: float
    mount_height: float
    pitch: float = 0.0
    roll: float = 0.0

    @classmethod
    def centred(
        cls,
        width: int,
        height: int,
        focal: float,
        mount_height: float,
        pitch: float,
        roll: float = 0.0,
    ) -> Camera:
        """A camera with its principal point at the image centre."""
        return cls(width, height, focal, width / 2.0, height / 2.0, mount_height, pitch, roll)

    def jittered(self, pitch: float, roll: float, height_scale: float) -> Camera:
        """The same camera moved by a pitch/roll offset and a height factor (a bumpy ride)."""
        return replace(
            self,
            pitch=self.pitch + pitch,
            roll=self.roll + roll,
            mount_height=self.mount_height * height_scale,
        )

    def scaled(self, factor: float) -> Camera:
        """The same camera rendering an image ``factor`` times the size (pixel centres kept)."""
        return replace(
            self,
            width=round(self.width * factor),
            height=round(self.height * factor),
            focal=self.focal * factor,
            cx=(self.cx + 0.5) * factor - 0.5,
            cy=(self.cy + 0.5) * factor - 0.5,
        )

    @cached_property
    def rotation(self) -> np.ndarray:
        """3x3 rotation from vehicle to camera coordinates (roll after pitch)."""
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        cr, sr = np.cos(self.roll), np.sin(self.roll)
        pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
        roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
        return roll @ pitch

    def project_xyz(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project vehicle coordinates (broadcastable arrays); returns (..., 2) pixels and depths.

        Points nearer than :data:`NEAR_DEPTH` to the image plane get their depth clamped,
        which only happens for geometry under or behind the camera, outside the frame.
        """
        r = self.rotation
        xc = r[0, 0] * x + r[0, 1] * y + r[0, 2] * z
        yc = r[1, 0] * x + r[1, 1] * y + r[1, 2] * z
        zc = r[2, 0] * x + r[2, 1] * y + r[2, 2] * z
        depth = np.maximum(zc, NEAR_DEPTH)
        u = self.cx + self.focal * xc / depth
        v = self.cy + self.focal * yc / depth
        u, v = np.broadcast_arrays(u, v)
        return np.stack([u, v], axis=-1), zc

    def project_ground(
        self, x: np.ndarray, z: np.ndarray, above: np.ndarray | float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Project points at lateral ``x``, distance ``z``, ``above`` metres over the road."""
        return self.project_xyz(
            np.asarray(x, float), self.mount_height - np.asarray(above, float), np.asarray(z, float)
        )

    def horizon_rows(self, u: np.ndarray) -> np.ndarray:
        """Image row of the horizon at columns ``u`` (a straight line when rolled)."""
        rot = self.rotation
        far = rot @ np.array([0.0, 0.0, 1.0])
        side = rot @ np.array([1.0, 0.0, 0.0])
        u0 = self.cx + self.focal * far[0] / far[2]
        v0 = self.cy + self.focal * far[1] / far[2]
        # Direction of the horizon in the image: the vanishing direction of lateral lines.
        du, dv = side[0] * far[2] - far[0] * side[2], side[1] * far[2] - far[1] * side[2]
        return v0 + (np.asarray(u, float) - u0) * (dv / du)

    def ground_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Road distance Z and camera depth of image rows at the centre column.

        Ignores roll (rows are taken as level), which is what the texture mapping needs:
        the exact geometry (markings, labels) always goes through :meth:`project`.
        Rows at or above the horizon get NaN.
        """
        t = (np.asarray(rows, float) - self.cy) / self.focal
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        denom = t * cp + sp
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(denom > 1e-9, self.mount_height * (cp - t * sp) / denom, np.nan)
        return z, self.mount_height * sp + z * cp
