"""Texture tiles made once per worker, then cropped at random offsets for every frame.

Procedural noise is the slow part of a realistic frame, so it is computed when a
:class:`TextureBank` is built (well under a second) and never per frame. Ground tiles live
in the road-aligned bird's-eye grid of :mod:`~lane_sad_core.data.synth.ground`; grain,
foliage, cloud and sensor-noise tiles live in image space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.synth.looks import Look

# Bird's-eye grid: columns span +-32 m at 10 cm, rows 0..200 m at 25 cm.
BEV_RES_X = 0.1
BEV_RES_Z = 0.25
BEV_COLS = 640
BEV_ROWS = 800
TILE_PAD = 192  # extra rows/columns so crops can start at random offsets


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    octaves: Sequence[tuple[float, float]],
    aspect: float = 1.0,
) -> np.ndarray:
    """Sum of smoothly upsampled random grids: (cell size in px along x, amplitude) each.

    ``aspect`` shrinks cells along y (rows), for grids whose rows are longer than columns.
    """
    height, width = shape
    out = np.zeros(shape, np.float32)
    for cell, amplitude in octaves:
        ny = max(2, int(height * aspect / cell) + 2)
        nx = max(2, int(width / cell) + 2)
        grid = rng.standard_normal((ny, nx)).astype(np.float32)
        out += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return out


def colorize(noise: np.ndarray, base: Sequence[float], spread: Sequence[float]) -> np.ndarray:
    """uint8 BGR image base + noise * spread (per channel)."""
    img = np.asarray(base, np.float32) + noise[..., None] * np.asarray(spread, np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _speckle(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    """Sparse bright/dark single-texel specks (aggregate stones in asphalt)."""
    specks = rng.random(shape, dtype=np.float32)
    return np.where(specks < density, 1.0, 0.0).astype(np.float32) - np.where(specks > 1 - density, 1.0, 0.0).astype(
        np.float32
    )


def surface_tile(
    rng: np.random.Generator, base: Sequence[float], spread: Sequence[float], shape: tuple[int, int]
) -> np.ndarray:
    """A road surface: blotches of 1-6 m, finer mottling and aggregate specks."""
    aspect = BEV_RES_X / BEV_RES_Z
    noise = fractal_noise(rng, shape, [(60, 0.7), (20, 0.5), (6, 0.35), (2, 0.25)], aspect)
    noise += 0.6 * _speckle(rng, shape, 0.01)
    return colorize(noise, base, spread)


def wear_tile(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Paint condition 0..255 (255 intact): mostly whole, flaking in patches of a few
    centimetres to metres (how worn a line is overall is its marking's opacity)."""
    aspect = BEV_RES_X / BEV_RES_Z
    noise = fractal_noise(rng, shape, [(30, 0.8), (8, 0.6), (2, 0.5)], aspect)
    return np.clip(300 + 110 * noise, 0, 255).astype(np.uint8)


def image_grain(rng: np.random.Generator, height: int, width: int, horizon: float) -> np.ndarray:
    """Fine ground grain in image space, centred on 128, fading out towards the horizon.

    A bird's-eye texel covers many pixels near the camera, so near-field texture comes
    from this tile: its amplitude grows with the row's distance below the horizon.
    """
    noise = fractal_noise(rng, (height, width), [(1, 0.3), (3, 0.5), (9, 0.4)])
    ramp = np.clip((np.arange(height, dtype=np.float32) - horizon) / (height - horizon), 0, 1)
    grain = 128 + 8 * noise * ramp[:, None]
    return cv2.merge([np.clip(grain, 0, 255).astype(np.uint8)] * 3)


def sensor_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Per-channel Gaussian noise centred on 128 (unit = 16 grey levels), slightly soft."""
    noise = rng.standard_normal((height, width, 3)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6) * 2.2
    return np.clip(128 + 16 * noise, 0, 255).astype(np.uint8)


def foliage_tile(rng: np.random.Generator, height: int, width: int, look: Look) -> np.ndarray:
    """Tree crowns: dark leaf clusters with lit tips, a few pixels across."""
    noise = fractal_noise(rng, (height, width), [(40, 0.5), (9, 0.7), (3, 0.6), (1, 0.3)])
    lit = np.clip(noise, -1.5, 2.0)
    return colorize(lit, look.foliage, look.foliage_spread)


def cloud_tile(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Cloud cover 0..255 (3 channels): soft blobs stretched horizontally, wisps between."""
    noise = fractal_noise(rng, (height, width), [(160, 1.0), (50, 0.6), (14, 0.3)], aspect=2.5)
    return cv2.merge([np.clip(110 * (noise - 0.4), 0, 255).astype(np.uint8)] * 3)


def hill_tile(rng: np.random.Generator, height: int, width: int, look: Look) -> np.ndarray:
    """Distant vegetated slopes: brush clumps and bare patches."""
    noise = fractal_noise(rng, (height, width), [(80, 0.7), (16, 0.6), (4, 0.5), (1, 0.25)])
    return colorize(noise, look.hill, look.hill_spread)


@dataclass
class TextureBank:
    """All tiles of one preset, built from one seed."""

    surfaces: dict[str, list[np.ndarray]]
    terrain: list[np.ndarray]
    verge: list[np.ndarray]
    wear: list[np.ndarray]
    grain: np.ndarray
    sensor: np.ndarray
    foliage: np.ndarray
    clouds: np.ndarray
    hills: np.ndarray

    @classmethod
    def build(cls, look: Look, width: int, height: int, horizon: float, seed: int) -> TextureBank:
        """Make every tile; deterministic in ``seed``.

        Image-space tiles are for a ``width`` x ``height`` rendering with the horizon at row
        ``horizon``.
        """
        rng = np.random.default_rng([seed, 0x7E47])
        shape = (BEV_ROWS + TILE_PAD, BEV_COLS + TILE_PAD)
        surfaces = {
            name: [surface_tile(rng, base, spread, shape) for _ in range(2)]
            for name, (base, spread) in look.surfaces.items()
        }
        wide = width + TILE_PAD
        return cls(
            surfaces=surfaces,
            terrain=[surface_tile(rng, b, s, shape) for b, s in look.terrain],
            verge=[surface_tile(rng, b, s, shape) for b, s in look.verge],
            wear=[wear_tile(rng, shape) for _ in range(2)],
            grain=image_grain(rng, height, wide, horizon),
            sensor=sensor_noise(rng, height + TILE_PAD // 4, wide),
            foliage=foliage_tile(rng, height, wide, look),
            clouds=cloud_tile(rng, height, wide),
            hills=hill_tile(rng, height, wide, look),
        )
