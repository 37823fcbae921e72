"""Light: cast shadows on the road, night (headlight pool, street lamps, glowing lamps)
and glare (low sun or oncoming headlights, CULane's ``dazzle`` / ``hlight``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.layout import RoadLayout
from lane_sad_core.data.synth.road import RoadShape
from lane_sad_core.data.synth.shapes import fill, ground_uv

UNIT = 128  # light layers: 128 means x1.0


@dataclass(frozen=True)
class Glare:
    """A bright source in view: position and radius as fractions of the image width/height
    (so it draws at any render size), strength 0..1, colour."""

    u: float
    v: float
    radius: float
    strength: float
    color: tuple[float, float, float]


@dataclass(frozen=True)
class Lighting:
    """Light of a frame.

    Attributes:
        night: dark scene lit by headlights and lamps.
        ambient: night-time light level (fraction of daylight).
        shadow_depth: how dark cast shadows are (0 none, 1 black).
        shadows: ground polygons in road coordinates ((N, 2) lateral, distance arrays).
        glare: bright sources in view.
        sky_glow: orange city glow above the horizon at night, 0..1.
    """

    night: bool
    ambient: float
    shadow_depth: float
    shadows: tuple[np.ndarray, ...]
    glare: tuple[Glare, ...]
    sky_glow: float


def _blob(rng: np.random.Generator, s: float, z: float, rx: float, rz: float) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    radius = 1.0 + 0.25 * rng.standard_normal(16)
    return np.stack([s + rx * radius * np.cos(angles), z + rz * radius * np.sin(angles)], 1)


def sample_shadows(rng: np.random.Generator, layout: RoadLayout, strong: bool) -> tuple[np.ndarray, ...]:
    """Tree-crown blobs and building edges across the road (many when ``strong``)."""
    shadows = []
    n_trees = int(rng.integers(12, 40)) if strong else int(rng.integers(0, 6))
    side = rng.choice([layout.left_edge, layout.right_edge])
    for _ in range(n_trees):
        s = side + rng.normal(0.0, 4.0) if rng.random() < 0.7 else rng.uniform(layout.left_edge, layout.right_edge)
        shadows.append(_blob(rng, s, rng.uniform(3.0, 70.0), rng.uniform(1.0, 3.5), rng.uniform(1.5, 5.0)))
    if strong and rng.random() < 0.4:
        edge = rng.uniform(layout.left_edge, layout.right_edge)
        z0 = rng.uniform(2.0, 20.0)
        z1 = z0 + rng.uniform(15.0, 80.0)
        far_side = layout.left_edge - 5 if rng.random() < 0.5 else layout.right_edge + 5
        shadows.append(np.array([[edge, z0], [far_side, z0], [far_side, z1], [edge + rng.normal(0, 3), z1]]))
    return tuple(shadows)


def sample_lighting(
    rng: np.random.Generator, layout: RoadLayout, category: str, overcast: bool, cam: Camera
) -> Lighting:
    """Night, shadows and glare for a frame of ``category``."""
    night = category == "night" or (category == "hlight" and rng.random() < 0.6)
    strong = category == "shadow"
    shadows = () if night or (overcast and not strong) else sample_shadows(rng, layout, strong)
    glare: list[Glare] = []
    if category == "hlight":
        glare = _sample_glare(rng, cam, night)
    return Lighting(
        night=night,
        ambient=float(rng.uniform(0.08, 0.22)),
        shadow_depth=float(rng.uniform(0.4, 0.6)) if not overcast else float(rng.uniform(0.2, 0.35)),
        shadows=shadows,
        glare=tuple(glare),
        sky_glow=float(rng.uniform(0.0, 0.6)),
    )


def _sample_glare(rng: np.random.Generator, cam: Camera, night: bool) -> list[Glare]:
    horizon = float(cam.horizon_rows(np.array([cam.cx]))[0]) / cam.height
    if night:  # oncoming headlights, a pair, on the left half
        u = 0.5 + rng.uniform(-0.35, 0.1)
        v = horizon + rng.uniform(0.0, 0.12)
        return [
            Glare(u + du, v, rng.uniform(0.1, 0.22), rng.uniform(0.7, 1.0), (235, 245, 255))
            for du in (0.0, rng.uniform(0.03, 0.06))
        ]
    return [
        Glare(
            rng.uniform(0.1, 0.9),
            horizon - rng.uniform(0.02, 0.25),
            rng.uniform(0.2, 0.4),
            rng.uniform(0.6, 1.0),
            (215, 240, 255),
        )
    ]


def draw_shadows(shade_layer: np.ndarray, row0: int, cam: Camera, road: RoadShape, light: Lighting) -> None:
    """Cast shadows into the shade layer (255 lit)."""
    value = 255.0 * (1.0 - light.shadow_depth)
    polys = []
    for poly in light.shadows:
        x, z = road.points(poly[:, 0], np.maximum(poly[:, 1], 0.8))
        polys.append(ground_uv(cam, np.stack([x, z], 1)) - (0, row0))
    fill(shade_layer, polys, value)


def apply_shade(img: np.ndarray, row0: int, shade_layer: np.ndarray, blur: int) -> None:
    """Darken the ground by the (softened) shade layer; shadows read slightly blue."""
    soft = cv2.blur(shade_layer, (blur, blur)) if blur > 1 else shade_layer
    blue = cv2.addWeighted(soft, 0.85, soft, 0.0, 255 * 0.15)
    cv2.multiply(img[row0:], cv2.merge([blue, soft, soft]), dst=img[row0:], scale=1 / 255)


def glow_sprite(size: int = 257) -> np.ndarray:
    """A radial glow (uint8, peak 255): bright core and a long soft tail, like lens bloom."""
    r = np.hypot(*np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size)))
    glow = 0.6 * np.exp(-((r / 0.08) ** 2)) + 0.4 / (1 + (r / 0.18) ** 2) ** 1.5
    return np.clip(255.0 * glow * np.clip(1.2 - r, 0, 1), 0, 255).astype(np.uint8)


def add_glow(
    img: np.ndarray,
    sprite: np.ndarray,
    u: float,
    v: float,
    radius: float,
    color: tuple[float, float, float],
    strength: float,
    stretch: float = 1.0,
) -> None:
    """Add a glow of ``radius`` pixels centred at (u, v); ``stretch`` elongates it downwards.

    The sprite is resized, then turned into colour with a 3x1 ``cv2.transform`` and added
    with saturation, all in 8-bit, so even frame-sized glare stays cheap.
    """
    rx, ry = max(2, int(radius)), max(2, int(radius * stretch))
    x0, y0 = int(u) - rx, int(v) - (rx if stretch == 1.0 else rx // 2)
    h, w = img.shape[:2]
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + 2 * rx), min(h, y0 + 2 * ry)
    if xb <= xa or yb <= ya:
        return
    glow = cv2.resize(sprite, (2 * rx, 2 * ry))[ya - y0 : yb - y0, xa - x0 : xb - x0]
    tint = (np.asarray(color, np.float32) * (strength / 255.0)).reshape(3, 1)
    roi = img[ya:yb, xa:xb]
    cv2.add(roi, cv2.transform(np.ascontiguousarray(glow), tint), dst=roi)


NIGHT_SCALE = 4  # the night light layer is computed at 1/4 resolution: it is smooth


def apply_night(
    img: np.ndarray,
    headlight: np.ndarray,
    light: Lighting,
    pools: list[np.ndarray],
    horizon_row: int,
) -> None:
    """Relight the frame for night: ambient + headlight pool + lamp pools + city glow.

    ``headlight`` is the low-resolution pool from :func:`headlight_map`. The light layer
    (128 = unchanged) is built at 1/:data:`NIGHT_SCALE` resolution, then enlarged and
    multiplied in once.
    """
    h, w = img.shape[:2]
    hq, wq = headlight.shape
    layer = np.empty((hq, wq, 3), np.uint8)
    layer[:] = tuple(int(UNIT * light.ambient * t) for t in (1.1, 1.0, 0.9))
    cv2.add(layer, cv2.merge([headlight] * 3), dst=layer)
    if pools:
        lamp = np.zeros((hq, wq), np.uint8)
        fill(lamp, [p / NIGHT_SCALE for p in pools], 255, antialias=False)
        lamp = cv2.blur(lamp, (9, 9))
        cv2.add(layer, cv2.transform(lamp, np.array([[0.12], [0.22], [0.32]], np.float32)), dst=layer)
    glow_rows = min(hq, horizon_row // NIGHT_SCALE)
    if light.sky_glow > 0 and glow_rows > 0:
        ramp = np.linspace(0, 1, glow_rows, dtype=np.float32) ** 2 * light.sky_glow
        sky = (ramp[:, None, None] * np.asarray((8, 18, 30), np.float32)).astype(np.uint8)
        cv2.add(
            layer[:glow_rows],
            np.ascontiguousarray(np.broadcast_to(sky, (glow_rows, wq, 3))),
            dst=layer[:glow_rows],
        )
    cv2.multiply(img, cv2.resize(layer, (w, h), interpolation=cv2.INTER_LINEAR), dst=img, scale=1 / UNIT)


def headlight_map(cam: Camera, strength: float = 1.1) -> np.ndarray:
    """Image-space pool of the ego car's low beams on the road, in light-layer units,
    at 1/:data:`NIGHT_SCALE` resolution.

    Computed once per preset from the unjittered camera: the beam widens with distance,
    peaks around 10 m and fades with the square of distance beyond.
    """
    rows = np.arange(cam.height, dtype=np.float64)
    z, depth = cam.ground_rows(rows)
    road = np.isfinite(z)
    z, depth = np.where(road, z, 1e6), np.where(road, depth, 0.0)
    x = (np.arange(cam.width) - cam.cx)[None, :] / cam.focal * depth[:, None]
    beam = np.exp(-((x / (0.7 + 0.2 * z[:, None])) ** 2))
    falloff = np.where(road, (z / 10.0) ** 1.5 / (1 + (z / 10.0) ** 3.5), 0.0)
    full = np.clip(UNIT * strength * beam * falloff[:, None], 0, 255).astype(np.uint8)
    size = (-(-cam.width // NIGHT_SCALE), -(-cam.height // NIGHT_SCALE))
    return cv2.resize(full, size, interpolation=cv2.INTER_AREA)


def lamp_pool(cam: Camera, road: RoadShape, lateral: float, distance: float) -> np.ndarray:
    """Pixel polygon of the lit disc (6 m) under a street lamp."""
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    s = lateral + 6.0 * np.cos(angles)
    z = np.maximum(distance + 6.0 * np.sin(angles), 0.8)
    return ground_uv(cam, np.stack(road.points(s, z), 1))


def apply_glare(img: np.ndarray, sprite: np.ndarray, glare: tuple[Glare, ...]) -> None:
    """Bloom around each source, a veil over the frame and a few lens ghosts."""
    h, w = img.shape[:2]
    for g in glare:
        veil = 0.1 * g.strength
        cv2.convertScaleAbs(img, dst=img, alpha=1 - veil, beta=veil * 120)
        u, v, radius = g.u * w, g.v * h, g.radius * w
        add_glow(img, sprite, u, v, radius, g.color, 2.2 * g.strength)
        add_glow(img, sprite, u, v, radius * 0.3, (255, 255, 255), 2.5 * g.strength)
        cx, cy = w / 2, h / 2
        for t, size in ((-0.4, 0.15), (-0.8, 0.08), (0.5, 0.05)):
            add_glow(
                img,
                sprite,
                cx + t * (u - cx),
                cy + t * (v - cy),
                radius * size,
                (180, 220, 200),
                0.5 * g.strength,
            )
