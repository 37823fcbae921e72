"""Everything beside the road: kerbs, barriers, rails, fences, trees, poles, signs,
buildings, embankments and overpasses.

Continuous structures run along the road at a fixed lateral offset and follow its curve;
trees and poles are single objects drawn in depth order with the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from numpy.typing import ArrayLike

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.layout import RoadLayout
from lane_sad_core.data.synth.looks import Look
from lane_sad_core.data.synth.road import RoadShape, geometric_samples
from lane_sad_core.data.synth.shapes import (
    fill,
    ground_uv,
    masked_copy,
    shade,
    tile_source,
    visible_rows,
)
from lane_sad_core.data.synth.textures import TextureBank

WINDOW_RANGE = 90.0  # metres; further windows are a pixel or less and are not drawn


@dataclass(frozen=True)
class Structure:
    """A structure along the road: ``kerb``, ``barrier`` (concrete), ``guardrail``,
    ``fence`` (railing) or ``wall``; its face looks towards the road."""

    kind: str
    lateral: float
    height: float
    color: tuple[float, float, float]
    z0: float = 1.0
    z1: float = 220.0


@dataclass(frozen=True)
class Tree:
    """A roadside tree; ``painted`` trunks are whitewashed at the bottom (as in Beijing)."""

    lateral: float
    distance: float
    trunk_height: float
    trunk_width: float
    crown_radius: float
    painted: bool
    blobs: np.ndarray  # (N, 4): lateral offset, distance offset, height, radius (metres)


@dataclass(frozen=True)
class Pole:
    """A street-lamp post (``arm`` towards the road, metres) or a sign post (``sign``)."""

    lateral: float
    distance: float
    height: float
    arm: float
    sign: tuple[float, float, tuple[float, float, float]] | None = None  # width, height, colour


@dataclass(frozen=True)
class Building:
    """A box with a window grid, its long face towards the road."""

    lateral: float
    distance: float
    length: float
    height: float
    depth: float
    color: tuple[float, float, float]


@dataclass(frozen=True)
class Embankment:
    """A vegetated slope rising from ``lateral`` away from the road."""

    lateral: float
    run: float
    rise: float


@dataclass(frozen=True)
class Overpass:
    """A bridge across the road at ``distance``, deck from ``clearance`` up ``thickness``."""

    distance: float
    clearance: float
    thickness: float
    color: tuple[float, float, float]


@dataclass
class Roadside:
    """All roadside content of a frame."""

    structures: list[Structure] = field(default_factory=list)
    trees: list[Tree] = field(default_factory=list)
    poles: list[Pole] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    embankments: list[Embankment] = field(default_factory=list)
    overpass: Overpass | None = None

    def open_gap(self, z0: float, z1: float) -> None:
        """Remove everything beside the road between distances z0 and z1 (a cross road)."""
        kept = []
        for st in self.structures:
            kept += [replace(st, z1=min(st.z1, z0))] if st.z0 < z0 else []
            kept += [replace(st, z0=max(st.z0, z1))] if st.z1 > z1 else []
        self.structures = kept
        self.trees = [t for t in self.trees if not z0 - 3.0 < t.distance < z1]
        self.poles = [p for p in self.poles if not z0 < p.distance < z1]
        self.buildings = [b for b in self.buildings if b.distance + b.length < z0 or b.distance > z1]
        self.embankments = []


def _tree_row(
    rng: np.random.Generator,
    lateral: float,
    side: int,
    painted: bool,
    spacing: tuple[float, float],
    tall: float,
    z_max: float = 110.0,
) -> list[Tree]:
    """A row of trees beside the road, every ``spacing`` metres up to ``z_max``.

    ``tall`` is how many crown radii the foliage stacks up (Beijing's poplars and willows
    form walls several times taller than wide; highway trees are round). All random
    numbers of the row are drawn as arrays: trees are the most numerous objects.
    """
    gaps = rng.uniform(*spacing, size=int(z_max / spacing[0]) + 1)
    z = rng.uniform(4.0, 14.0) + np.concatenate([[0.0], np.cumsum(gaps)])
    z = z[z < z_max]
    n = len(z)
    crown = rng.uniform(1.5, 3.0, size=n)
    trunk_h = rng.uniform(2.0, 3.5, size=n)
    trunk_w = rng.uniform(0.25, 0.45, size=n)
    stack = crown * rng.uniform(0.5, 1.0, size=n) * tall
    offset = side * rng.uniform(0.0, 1.0, size=n)
    counts = rng.integers(5, 8, size=n) + np.round(tall * 1.5).astype(int)
    owner = np.repeat(np.arange(n), counts)
    unit = rng.random((int(counts.sum()), 4))
    c, h, up = crown[owner], trunk_h[owner], unit[:, 2]
    taper = 1.0 - 0.5 * up * (tall > 1.5)
    blobs = np.stack(
        [
            c * 0.7 * (2 * unit[:, 0] - 1) * taper,
            c * 0.55 * (2 * unit[:, 1] - 1),
            h + c * 0.4 + stack[owner] * up,
            c * (0.4 + 0.35 * unit[:, 3]) * taper,
        ],
        1,
    )
    parts = np.split(blobs, np.cumsum(counts)[:-1])
    return [Tree(lateral + offset[k], z[k], trunk_h[k], trunk_w[k], crown[k], painted, parts[k]) for k in range(n)]


def _buildings(rng: np.random.Generator, look: Look, lateral: float, side: int) -> list[Building]:
    out, z = [], rng.uniform(5.0, 30.0)
    while z < 160.0:
        length = rng.uniform(15.0, 45.0)
        color = look.building_colors[int(rng.integers(len(look.building_colors)))]
        out.append(
            Building(
                lateral + side * rng.uniform(0.0, 6.0),
                z,
                length,
                rng.uniform(8.0, 40.0),
                rng.uniform(10.0, 20.0),
                shade(color, rng.uniform(0.8, 1.1)),
            )
        )
        z += length + rng.uniform(3.0, 25.0)
    return out


def _poles(
    rng: np.random.Generator,
    lateral: float,
    side: int,
    spacing: float,
    sign_color: tuple[float, float, float],
    sign_prob: float,
) -> list[Pole]:
    out, z = [], rng.uniform(5.0, spacing)
    while z < 150.0:
        sign = None
        if rng.random() < sign_prob:
            sign = (rng.uniform(2.0, 4.0), rng.uniform(1.0, 2.0), sign_color)
        out.append(Pole(lateral, z, rng.uniform(7.5, 10.0), -side * rng.uniform(1.0, 2.5), sign))
        z += spacing * rng.uniform(0.8, 1.2)
    return out


def sample_urban(rng: np.random.Generator, layout: RoadLayout, look: Look) -> Roadside:
    """Kerbs, railings, whitewashed tree rows, lamp posts, blue signs and buildings."""
    side = Roadside()
    for sign, edge in ((-1, layout.left_edge), (1, layout.right_edge)):
        side.structures.append(Structure("kerb", edge, 0.15, (150, 150, 152)))
        if rng.random() < 0.4:
            side.structures.append(Structure("fence", edge + sign * 0.3, rng.uniform(0.9, 1.3), (175, 178, 180)))
        walk = rng.uniform(3.0, 7.0)
        if rng.random() < 0.75:
            side.trees += _tree_row(
                rng,
                edge + sign * walk,
                sign,
                rng.random() < 0.7,
                (5.0, 10.0),
                tall=rng.uniform(1.5, 4.0),
            )
        if rng.random() < 0.25:
            side.buildings += _buildings(rng, look, edge + sign * rng.uniform(12.0, 30.0), sign)
        if rng.random() < 0.7:
            side.poles += _poles(rng, edge + sign * 0.6, sign, rng.uniform(28.0, 40.0), (150, 80, 20), 0.25)
    return side


def sample_highway(rng: np.random.Generator, layout: RoadLayout, look: Look) -> Roadside:
    """Median barriers or guardrails, embankments, sparse trees, light poles, overpasses."""
    side = Roadside()
    kind = str(rng.choice(["barrier", "guardrail", "none"], p=[0.6, 0.25, 0.15]))
    if kind == "barrier":
        side.structures.append(Structure("barrier", layout.left_edge, rng.uniform(0.8, 1.1), look.barrier))
    elif kind == "guardrail":
        side.structures.append(Structure("guardrail", layout.left_edge - 0.3, 0.75, (165, 168, 170)))
    if rng.random() < 0.4:
        side.structures.append(Structure("guardrail", layout.right_edge + 0.6, 0.75, (165, 168, 170)))
    for sign, edge in ((-1, layout.left_edge), (1, layout.right_edge)):
        if rng.random() < 0.45:
            side.embankments.append(
                Embankment(
                    edge + sign * rng.uniform(2.0, 8.0),
                    sign * rng.uniform(10.0, 30.0),
                    rng.uniform(4.0, 14.0),
                )
            )
        if rng.random() < 0.5:
            side.trees += _tree_row(
                rng,
                edge + sign * rng.uniform(6.0, 20.0),
                sign,
                False,
                (12.0, 40.0),
                tall=rng.uniform(0.5, 1.5),
            )
    if rng.random() < 0.35:
        side.poles += _poles(rng, layout.left_edge - 0.4, -1, rng.uniform(40.0, 60.0), (60, 110, 20), 0.1)
    if rng.random() < 0.15:
        side.overpass = Overpass(
            rng.uniform(40.0, 140.0), rng.uniform(5.0, 6.5), rng.uniform(1.2, 2.2), (150, 155, 158)
        )
    return side


def _along(road: RoadShape, lateral: ArrayLike, z: ArrayLike) -> np.ndarray:
    x, zz = road.points(lateral, z)
    return np.stack(np.broadcast_arrays(x, zz), -1)


def _face(
    cam: Camera,
    road: RoadShape,
    lateral: float | np.ndarray,
    z: np.ndarray,
    low: float | np.ndarray,
    high: float | np.ndarray,
) -> np.ndarray:
    """Vertical faces along the road between heights low and high.

    z of shape (N,) gives one (2N, 2) polygon; z of shape (K, N) (with ``lateral``, ``low``
    and ``high`` scalars or (K, 1) arrays) gives a (K, 2N, 2) batch.
    """
    xz = _along(road, lateral, z)
    bottom = ground_uv(cam, xz, low)
    top = ground_uv(cam, xz, high)[..., ::-1, :]
    return np.concatenate([bottom, top], axis=-2)


def _pairs(starts: np.ndarray, length: float) -> np.ndarray:
    return np.stack([starts, starts + length], 1)


def draw_structure(img: np.ndarray, cam: Camera, road: RoadShape, st: Structure) -> None:
    """One continuous structure, as a few bands along the road."""
    z = geometric_samples(st.z0, st.z1, 24)
    if st.kind == "guardrail":
        fill(img, [_face(cam, road, st.lateral, z, 0.45, st.height)], st.color)
        fill(
            img,
            [_face(cam, road, st.lateral, z, st.height - 0.06, st.height)],
            shade(st.color, 1.25),
        )
        posts = _pairs(np.arange(st.z0 + 1.0, min(st.z1, 80.0), 2.0), 0.12)
        fill(
            img,
            _face(cam, road, st.lateral, posts, 0.0, st.height - 0.05),
            (70, 72, 74),
            disjoint=True,
        )
        return
    if st.kind == "fence":
        _draw_fence(img, cam, road, st, z)
        return
    fill(img, [_face(cam, road, st.lateral, z, 0.0, st.height)], st.color)
    if st.kind == "barrier":
        fill(img, [_face(cam, road, st.lateral, z, 0.0, 0.12)], shade(st.color, 0.7))
        fill(
            img,
            [_face(cam, road, st.lateral, z, st.height - 0.05, st.height)],
            shade(st.color, 1.2),
        )


def _draw_fence(img: np.ndarray, cam: Camera, road: RoadShape, st: Structure, z: np.ndarray) -> None:
    """A see-through railing: rails, posts, and bars that merge into a band far away."""
    far = z[z >= 40.0]
    if len(far) > 1:
        band = _face(cam, road, st.lateral, far, 0.1, st.height)
        top, bottom = visible_rows(img.shape[0], [band])
        rows = img[top:bottom]
        layer = rows.copy()
        fill(layer, [band - (0, top)], st.color)
        cv2.addWeighted(rows, 0.55, layer, 0.45, 0.0, dst=rows)
    bars = _pairs(np.arange(st.z0 + 0.2, min(st.z1, 40.0), 0.35), 0.04)
    fill(img, _face(cam, road, st.lateral, bars, 0.1, st.height), shade(st.color, 0.9), disjoint=True)
    posts = _pairs(np.arange(st.z0 + 1.0, min(st.z1, 200.0), 2.5), 0.1)
    fill(
        img,
        _face(cam, road, st.lateral, posts, 0.0, st.height + 0.05),
        shade(st.color, 0.8),
        disjoint=True,
    )
    for low, high in ((0.08, 0.16), (st.height - 0.08, st.height + 0.02)):
        fill(img, [_face(cam, road, st.lateral, z, low, high)], st.color)


def draw_embankment(
    img: np.ndarray, cam: Camera, road: RoadShape, emb: Embankment, bank: TextureBank, offset: int
) -> None:
    """A slope from the ground line up to its crest, textured with brush."""
    z = geometric_samples(2.0, 220.0, 30)
    foot = ground_uv(cam, _along(road, emb.lateral, z))
    crest = ground_uv(cam, _along(road, emb.lateral + emb.run, z), emb.rise)
    masked_copy(img, [np.concatenate([foot, crest[::-1]])], tile_source(bank.hills, (offset, 0)))


def draw_building(img: np.ndarray, cam: Camera, road: RoadShape, b: Building) -> None:
    """Facade, end wall and a grid of windows."""
    z = np.array([b.distance, b.distance + b.length])
    far_side = b.lateral + np.sign(b.lateral) * b.depth
    facade = _face(cam, road, b.lateral, z, 0.0, b.height)
    ends = _along(road, np.array([b.lateral, far_side]), b.distance)
    end = np.concatenate([ground_uv(cam, ends), ground_uv(cam, ends[::-1], b.height)])
    fill(img, [end], shade(b.color, 0.8))
    fill(img, [facade], b.color)
    rows = np.arange(1.5, b.height - 1.0, 3.2)
    cols = np.arange(b.distance + 1.0, b.distance + b.length - 1.0, 3.5)
    if len(rows) == 0 or len(cols) == 0 or b.distance > WINDOW_RANGE:
        return
    cc, rr = (a.ravel() for a in np.meshgrid(cols, rows))
    windows = _face(cam, road, b.lateral, _pairs(cc, 1.8), rr[:, None], rr[:, None] + 1.6)
    fill(img, windows, shade(b.color, 0.45), antialias=False, disjoint=True)


def draw_overpass(img: np.ndarray, cam: Camera, road: RoadShape, ov: Overpass) -> None:
    """Deck across the whole view, its dark underside, and two pillars."""
    s = np.linspace(-120.0, 120.0, 25)
    xz = _along(road, s, ov.distance)
    low, high = ground_uv(cam, xz, ov.clearance), ground_uv(cam, xz, ov.clearance + ov.thickness)
    under = ground_uv(cam, _along(road, s, ov.distance + 8.0), ov.clearance)
    fill(img, [np.concatenate([low, under[::-1]])], shade(ov.color, 0.35))
    pillars = np.array([[-14.0], [14.0]])
    fill(
        img,
        _face(
            cam,
            road,
            pillars,
            np.tile([ov.distance + 1.0, ov.distance + 2.0], (2, 1)),
            0.0,
            ov.clearance,
        ),
        shade(ov.color, 0.75),
    )
    fill(img, [np.concatenate([low, high[::-1]])], ov.color)
    rail = ground_uv(cam, xz, ov.clearance + ov.thickness + 1.0)
    fill(img, [np.concatenate([high, rail[::-1]])], shade(ov.color, 0.8))


@dataclass(frozen=True)
class TreeShape:
    """A tree projected into the image: trunk, whitewash and crown circles (pixels)."""

    distance: float
    trunk: np.ndarray
    paint: np.ndarray | None
    crown: np.ndarray


def tree_shapes(cam: Camera, road: RoadShape, trees: list[Tree]) -> list[TreeShape]:
    """Project every tree of a frame at once (one projection for all crowns)."""
    if not trees:
        return []
    lateral = np.array([[t.lateral] for t in trees])
    z = np.array([[t.distance, t.distance + t.trunk_width] for t in trees])
    tops = np.array([[t.trunk_height + t.crown_radius * 0.5] for t in trees])
    trunks = _face(cam, road, lateral, z, 0.0, tops)
    paint = _face(cam, road, lateral, z, 0.0, 1.1)
    owner = np.concatenate([[k] * len(t.blobs) for k, t in enumerate(trees)])
    blobs = np.array([b for t in trees for b in t.blobs])
    x, zz = road.points(lateral[owner, 0] + blobs[:, 0], z[owner, 0] + blobs[:, 1])
    uv, depth = cam.project_ground(x, zz, blobs[:, 2])
    radius = cam.focal * blobs[:, 3] / np.maximum(depth, 0.5)
    # Leafy outlines: each blob's radius wobbles around the circle with its own phase.
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    phase = blobs[:, 0:1] * 7.0 + blobs[:, 2:3] * 3.0
    wobble = 1.0 + 0.14 * np.sin(5 * angles + phase) + 0.09 * np.sin(11 * angles + 2 * phase)
    ring = np.stack([np.cos(angles), np.sin(angles)], 1)
    circles = uv[:, None, :] + (radius[:, None] * wobble)[..., None] * ring
    circles = circles[depth > 0.5]
    owner = owner[depth > 0.5]
    return [
        TreeShape(t.distance, trunks[k], paint[k] if t.painted else None, circles[owner == k])
        for k, t in enumerate(trees)
    ]


def draw_trees(
    img: np.ndarray,
    trees: list[TreeShape],
    bank: TextureBank,
    offset: int,
    foliage: tuple[float, float, float],
    small: float,
) -> None:
    """Trunks, whitewashed feet and crowns of trees at similar depth, crowns in one copy
    (flat foliage colour when all crowns are under ``small`` pixels tall)."""
    fill(img, [t.trunk for t in trees], (52, 60, 66))
    fill(img, [t.paint for t in trees if t.paint is not None], (210, 214, 216))
    crowns = [t.crown for t in trees if len(t.crown)]
    if not crowns:
        return
    circles = np.concatenate(crowns)
    if np.ptp(circles[..., 1]) < small:
        fill(img, circles, foliage)
    else:
        masked_copy(img, circles, tile_source(bank.foliage, (offset, 0)))


@dataclass(frozen=True)
class PoleShape:
    """A pole projected into the image: post, and arm or sign panel (pixels)."""

    distance: float
    post: np.ndarray
    top: np.ndarray
    sign_color: tuple[float, float, float] | None
    lamp: tuple[float, float, float] | None  # u, v, size px


def pole_shapes(cam: Camera, road: RoadShape, poles: list[Pole]) -> list[PoleShape]:
    """Project every pole of a frame with a few array operations."""
    if not poles:
        return []
    lateral = np.array([[p.lateral] for p in poles])
    height = np.array([[p.height] for p in poles])
    z = np.array([[p.distance, p.distance + 0.2] for p in poles])
    posts = _face(cam, road, lateral, z, 0.0, height)
    # Arm (or sign) from the post towards the road: [pole, inner/outer end].
    reach = np.array([[p.sign[0] * np.sign(p.arm) if p.sign else p.arm] for p in poles])
    low = height - np.array([[p.sign[1] + 1.0 if p.sign else 0.15] for p in poles])
    high = height - np.array([[1.0 if p.sign else 0.0] for p in poles])
    xz = _along(road, np.hstack([lateral, lateral + reach]), z[:, :1])
    lows, depth = cam.project_ground(xz[..., 0], xz[..., 1], low)
    highs = ground_uv(cam, xz, high)
    tops = np.concatenate([lows, highs[:, ::-1]], axis=1)
    shapes = []
    for k, p in enumerate(poles):
        lamp = None
        if p.sign is None:
            u, v = lows[k, 1]
            lamp = (float(u), float(v), float(cam.focal * 0.4 / max(depth[k, 1], 1.0)))
        shapes.append(PoleShape(p.distance, posts[k], tops[k], p.sign[2] if p.sign else None, lamp))
    return shapes


def draw_pole(img: np.ndarray, pole: PoleShape) -> list[tuple[float, float, float]]:
    """Post with a lamp arm or a sign panel; returns lamp heads (u, v, size px)."""
    fill(img, [pole.post], (95, 98, 100))
    fill(img, [pole.top], pole.sign_color or (95, 98, 100))
    return [pole.lamp] if pole.lamp else []
