"""Sky and the far distance: gradient, clouds, hills, tree lines and city skylines.

Far things sit on the horizon line, which tilts with camera roll, so silhouettes are
drawn as polygons over a row profile measured up from the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.shapes import fill, masked_copy, shade
from lane_sad_core.data.synth.textures import TextureBank

Color = tuple[float, float, float]


@dataclass(frozen=True)
class Silhouette:
    """A far layer: ``hills``, ``trees`` or ``skyline``; ``haze`` mixes in the sky colour."""

    kind: str
    height: float  # mean height above the horizon, as a fraction of the image height
    roughness: float  # relative size of the bumps
    haze: float
    seed: int


@dataclass(frozen=True)
class Backdrop:
    """Sky colours (zenith, horizon), cloud cover, far silhouettes (back to front), and the
    haze distance: the ground fades towards the horizon colour as 1 - exp(-z / haze)."""

    zenith: Color
    horizon: Color
    clouds: float
    cloud_offset: int
    layers: tuple[Silhouette, ...]
    haze: float


def draw_sky(img: np.ndarray, cam: Camera, sky: Backdrop, bank: TextureBank) -> int:
    """Fill rows above the lowest horizon point with the sky; returns that row count."""
    height, width = img.shape[:2]
    ends = cam.horizon_rows(np.array([0.0, width - 1.0]))
    bottom = int(np.clip(np.ceil(ends.max()) + 2, 1, height))
    t = np.clip(np.arange(bottom, dtype=np.float32) / max(float(ends.mean()), 1.0), 0, 1) ** 0.6
    grad = np.asarray(sky.zenith, np.float32) * (1 - t[:, None]) + np.asarray(sky.horizon, np.float32) * t[:, None]
    cv2.resize(
        grad.astype(np.uint8)[:, None, :],
        (width, bottom),
        dst=img[:bottom],
        interpolation=cv2.INTER_NEAREST,
    )
    if sky.clouds > 0:
        cloud = bank.clouds[:bottom, sky.cloud_offset : sky.cloud_offset + width]
        region = img[:bottom]
        cv2.scaleAdd(cloud, sky.clouds * 0.5, region, region)
    return bottom


def _profile(rng: np.random.Generator, width: int, roughness: float, kind: str) -> np.ndarray:
    """Heights (fraction of mean) of a silhouette's top edge at every 8th column."""
    n = width // 8 + 2
    if kind == "skyline":
        steps = np.repeat(rng.uniform(0.3, 1.7, size=n // 6 + 1), 6)[:n]
        return steps + 0.05 * rng.standard_normal(n)
    # Octaves of smoothed noise, each scaled to unit spread: broad masses, ridges, texture.
    octaves = ((25.0, 0.8), (6.0, 0.3 * roughness), (1.2, 0.08 * roughness))
    if kind == "trees":
        octaves = ((12.0, 0.4), (2.0, 0.35 * roughness), (0.8, 0.15))
    profile = np.ones(n, np.float32)
    for sigma, weight in octaves:
        noise = cv2.GaussianBlur(rng.standard_normal((1, n)).astype(np.float32), (0, 0), sigma)[0]
        profile += weight * (noise - noise.mean()) / max(float(noise.std()), 1e-6)
    return np.clip(profile, 0.05, 2.2)


def draw_silhouette(
    img: np.ndarray, cam: Camera, layer: Silhouette, sky: Backdrop, bank: TextureBank, offset: int
) -> None:
    """One far layer, textured (hills, trees) or flat (skyline), hazed towards the sky."""
    height, width = img.shape[:2]
    rng = np.random.default_rng(layer.seed)
    profile = _profile(rng, width, layer.roughness, layer.kind)
    u = np.arange(len(profile), dtype=float) * 8.0
    base = cam.horizon_rows(u)
    top = base - profile * layer.height * height
    polygon = np.concatenate([np.stack([u, top], 1), np.stack([u[::-1], base[::-1] + 3.0], 1)])
    if layer.kind == "skyline":
        color = np.asarray(sky.horizon) * (1 - layer.haze) + np.asarray((120, 120, 125)) * layer.haze
        fill(img, [polygon], tuple(float(c) for c in color), antialias=False)
        return
    source = bank.hills if layer.kind == "hills" else bank.foliage
    haze = np.asarray(sky.horizon, np.float32).reshape(3, 1) * layer.haze
    mix = np.hstack([np.eye(3, dtype=np.float32) * (1 - layer.haze), haze])

    def hazed(rows: slice, cols: slice) -> np.ndarray:
        return cv2.transform(source[rows, cols.start + offset : cols.stop + offset], mix)

    masked_copy(img, [polygon], hazed)


def sample_backdrop(
    rng: np.random.Generator,
    environment: str,
    overcast: bool,
    clear: tuple[Color, Color],
    grey: tuple[Color, Color],
) -> Backdrop:
    """Sky and far layers of a frame."""
    zenith, horizon = grey if overcast else clear
    jitter = rng.uniform(0.9, 1.08)
    zenith, horizon = shade(zenith, jitter), shade(horizon, jitter)
    layers = []
    if environment == "highway":
        layers.append(
            Silhouette(
                "hills",
                rng.uniform(0.03, 0.09),
                rng.uniform(0.6, 1.5),
                rng.uniform(0.1, 0.3),
                int(rng.integers(1 << 30)),
            )
        )
        if rng.random() < 0.6:
            layers.append(
                Silhouette(
                    "hills",
                    rng.uniform(0.015, 0.05),
                    rng.uniform(0.8, 2.0),
                    rng.uniform(0.0, 0.2),
                    int(rng.integers(1 << 30)),
                )
            )
    else:
        if rng.random() < 0.5:
            layers.append(
                Silhouette(
                    "skyline",
                    rng.uniform(0.03, 0.08),
                    1.0,
                    rng.uniform(0.4, 0.7),
                    int(rng.integers(1 << 30)),
                )
            )
        layers.append(
            Silhouette(
                "trees",
                rng.uniform(0.015, 0.05),
                rng.uniform(1.0, 2.5),
                rng.uniform(0.2, 0.5),
                int(rng.integers(1 << 30)),
            )
        )
    clouds = rng.uniform(0.0, 0.5) if not overcast else rng.uniform(0.1, 0.3)
    haze = rng.uniform(250.0, 700.0) if environment == "urban" else rng.uniform(500.0, 1500.0)
    return Backdrop(zenith, horizon, float(clouds), int(rng.integers(0, 128)), tuple(layers), float(haze))
