"""What the camera does to the light: exposure, white balance, contrast and saturation
(one 3x4 colour matrix), an occasional gamma curve, vignetting and lens shading, the dash
camera's classic hood and clock, motion blur, sensor noise, and JPEG compression. Varied
bonnets and the windscreen are :mod:`~lane_sad_core.data.synth.dashcam`, lens distortion
:mod:`~lane_sad_core.data.synth.lens`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CameraFx:
    """Per-frame camera response.

    Attributes:
        gain: exposure multiplier.
        white_balance: per-channel (B, G, R) gains.
        gamma: tone-curve exponent (< 1 brightens shadows); 1 skips the curve.
        contrast: slope of the response around mid grey.
        saturation: colour saturation factor (1 unchanged).
        black: black level lift, 0..1.
        motion_blur: vertical blur length in pixels (1 = none) on the near field.
        blur_sigma: optics blur, pixels (0 = none).
        noise: sensor noise strength (1 = 16 grey levels standard deviation).
        noise_offset: (x, y) crop offset into the noise tile.
        jpeg_quality: encoder quality.
        dashcam: draw the hood, dark lens edges and the clock.
        clock: text of the clock overlay.
    """

    gain: float
    white_balance: tuple[float, float, float]
    gamma: float
    contrast: float
    saturation: float
    black: float
    motion_blur: int
    blur_sigma: float
    noise: float
    noise_offset: tuple[int, int]
    jpeg_quality: int
    dashcam: bool
    clock: str


def sample_fx(
    rng: np.random.Generator,
    night: bool,
    dashcam: bool,
    jpeg_quality: tuple[float, float],
    noise_room: tuple[int, int],
) -> CameraFx:
    """Camera response of a frame; night frames are noisier, blurrier and lifted."""
    wb = rng.normal(1.0, 0.03, size=3)
    return CameraFx(
        gain=float(rng.uniform(0.85, 1.15) * (1.6 if night else 1.0)),
        white_balance=(float(wb[0]), float(wb[1]), float(wb[2])),
        gamma=float(rng.uniform(0.8, 1.1)) if rng.random() < 0.3 else 1.0,
        contrast=float(rng.uniform(0.9, 1.25)),
        saturation=float(rng.uniform(0.85, 1.25)),
        black=float(rng.uniform(0.0, 0.04)),
        motion_blur=int(rng.choice([1, 1, 1, 3, 5]) if not night else rng.choice([3, 5, 7])),
        blur_sigma=float(rng.choice([0.0, 0.0, 0.6, 0.9])),
        noise=float(rng.uniform(0.05, 0.2) if not night else rng.uniform(0.2, 0.4)),
        noise_offset=(int(rng.integers(0, noise_room[0])), int(rng.integers(0, noise_room[1]))),
        jpeg_quality=int(rng.uniform(*jpeg_quality)),
        dashcam=dashcam,
        clock=f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}",
    )


# Rec. 601 luma weights in B, G, R order.
_LUMA = np.array([0.114, 0.587, 0.299])


def colour_matrix(fx: CameraFx) -> np.ndarray:
    """3x4 matrix for ``cv2.transform``: saturation, white balance, exposure, contrast, black.

    One matrix does all the linear parts of the response in a single pass over the frame,
    which a per-channel lookup table (twice as slow) or separate steps could not.
    """
    sat = fx.saturation * np.eye(3) + (1 - fx.saturation) * np.tile(_LUMA, (3, 1))
    gain = fx.gain * fx.contrast * (1 - fx.black) * np.asarray(fx.white_balance)[:, None]
    offset = 255.0 * ((1 - fx.contrast) * 0.5 * (1 - fx.black) + fx.black)
    return np.hstack([sat * gain, np.full((3, 1), offset)]).astype(np.float32)


def gamma_lut(gamma: float) -> np.ndarray:
    """(1, 256) lookup table of a gamma curve."""
    return np.clip(255.0 * np.linspace(0.0, 1.0, 256) ** gamma + 0.5, 0, 255).astype(np.uint8)[None]


def lens_shading(width: int, height: int, dashcam: bool) -> np.ndarray:
    """(H, W, 3) uint8 multiplier (255 = x1): cos^4-like vignetting; for dash cameras also
    the black rim left by undistorting a fisheye lens (CULane frames show it at the sides).
    """
    x = (np.arange(width) - width / 2) / (width / 2)
    y = (np.arange(height) - height / 2) / (width / 2)
    r2 = x[None, :] ** 2 + y[:, None] ** 2
    shading = 1.0 / (1.0 + 0.35 * r2) ** 2
    if dashcam:
        ry = (np.arange(height) - height * 0.5) / (height * 1.7)
        rim = x[None, :] ** 2 + ry[:, None] ** 2
        shading *= np.clip((1.0 - rim) / 0.01, 0.0, 1.0)
    return cv2.merge([np.clip(255 * shading, 0, 255).astype(np.uint8)] * 3)


def hood_overlay(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The dash camera's view of its own car: a dark bonnet edge along the bottom.

    Returns (keep, add): the frame becomes ``frame * keep / 255 + add``.
    """
    keep = np.full((height, width), 255, np.uint8)
    add = np.zeros((height, width, 3), np.uint8)
    centre = (int(width * 0.52), int(height * 1.35))
    axes = (int(width * 0.3), int(height * 0.4))
    cv2.ellipse(keep, centre, axes, 0, 0, 360, 0, -1, cv2.LINE_AA)
    cv2.ellipse(add, centre, axes, 0, 0, 360, (34, 32, 33), -1, cv2.LINE_AA)
    cv2.ellipse(add, centre, (axes[0] - 6, axes[1] - 6), 0, 200, 340, (58, 56, 58), 2, cv2.LINE_AA)
    return cv2.merge([keep] * 3), add


@dataclass
class CameraModel:
    """Per-preset camera constants (lens shading, hood) and the per-frame pipeline."""

    shading: np.ndarray
    shading_dashcam: np.ndarray
    hood_keep: np.ndarray
    hood_add: np.ndarray
    hood_row: int

    @classmethod
    def build(cls, width: int, height: int) -> CameraModel:
        """Precompute the maps of a ``width`` x ``height`` camera."""
        keep, add = hood_overlay(width, height)
        rows = np.flatnonzero(keep[..., 0].min(axis=1) < 255)
        row = int(rows[0]) if len(rows) else height
        return cls(
            lens_shading(width, height, False),
            lens_shading(width, height, True),
            keep[row:].copy(),
            add[row:].copy(),
            row,
        )

    def classic_hood(self, img: np.ndarray) -> None:
        """The one small dark bonnet of CULane clips 0755/0756, at render size (in place)."""
        hood = img[self.hood_row :]
        cv2.multiply(hood, self.hood_keep, dst=hood, scale=1 / 255)
        cv2.add(hood, self.hood_add, dst=hood)

    def optics(self, img: np.ndarray, fx: CameraFx, near_row: int, scale: float, noise_tile: np.ndarray) -> None:
        """Colour response, lens shading, blur and sensor noise, at render size.

        ``scale`` is the render size relative to the output, for blur lengths in pixels.
        Noise is added before enlarging: the real frames' grain is soft too (CULane's
        video was compressed and upscaled), and it keeps full-size work to the resize.
        """
        cv2.transform(img, colour_matrix(fx), dst=img)
        if fx.gamma != 1.0:
            cv2.LUT(img, gamma_lut(fx.gamma), dst=img)
        cv2.multiply(img, self.shading_dashcam if fx.dashcam else self.shading, dst=img, scale=1 / 255)
        blur = round(fx.motion_blur * scale) | 1
        if blur > 1:
            near = img[near_row:]
            cv2.blur(near, (1, blur), dst=near)
        if fx.blur_sigma > 0 and scale == 1.0:
            cv2.GaussianBlur(img, (3, 3), fx.blur_sigma, dst=img)
        h, w = img.shape[:2]
        ox, oy = fx.noise_offset
        noise = noise_tile[oy : oy + h, ox : ox + w]
        cv2.addWeighted(img, 1.0, noise, fx.noise, -128.0 * fx.noise, dst=img)

    def overlay(self, img: np.ndarray, fx: CameraFx) -> None:
        """The recorder's clock, drawn sharp at output size (in place)."""
        if fx.dashcam:
            _clock(img, fx.clock)


def _clock(img: np.ndarray, text: str) -> None:
    """The recorder's time stamp near the bottom left, half cut by the frame edge."""
    h, w = img.shape[:2]
    org = (int(w * 0.255), h + 4)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 5, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 1.1, (235, 235, 235), 2, cv2.LINE_AA)
