"""The road surface and its surroundings, textured in a road-aligned bird's-eye grid.

Per frame a small grid (columns: lateral offset from the ego-lane centre, rows: distance
along the road) is composed from pre-made tiles: terrain, verge, pavement, patches,
cracks, concrete joints and wheel tracks. One ``cv2.remap`` then lays it into the image:
each image row below the horizon is a known distance, each column a known lateral ray,
and subtracting the centreline's offset at that distance bends the grid with the road.
The fourth channel carries paint condition, so marking wear is in perspective too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.layout import RoadLayout
from lane_sad_core.data.synth.looks import Look
from lane_sad_core.data.synth.road import RoadShape
from lane_sad_core.data.synth.shapes import SHIFT, fixed_point
from lane_sad_core.data.synth.textures import (
    BEV_COLS,
    BEV_RES_X,
    BEV_RES_Z,
    BEV_ROWS,
    TILE_PAD,
    TextureBank,
)

FAR_DISTANCE = 1e4  # metres given to rows at or above the horizon


@dataclass(frozen=True)
class Patch:
    """A repaired rectangle of pavement, lateral [s0, s1], distance [z0, z1]."""

    s0: float
    s1: float
    z0: float
    z1: float


@dataclass(frozen=True)
class Surface:
    """Materials and details of the ground in a frame.

    Attributes:
        material: a key of the look's ``surfaces``.
        variant, terrain, verge, wear: which tile of each kind.
        offsets: random (row, col) crop offsets of the surface, terrain and wear tiles.
        verge_width: width of sidewalk or gravel beyond the paved edge, metres.
        patches: repaired rectangles.
        cracks: crack polylines as (N, 2) (lateral, distance) arrays.
        joint_spacing: transverse joint spacing of concrete slabs (0: asphalt).
        tracks: darkening of the lane centres (oil, tyre wear), 0..1.
    """

    material: str
    variant: int
    terrain: int
    verge: int
    wear: int
    offsets: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    verge_width: float
    patches: tuple[Patch, ...]
    cracks: tuple[np.ndarray, ...]
    joint_spacing: float
    tracks: float


def sample_surface(rng: np.random.Generator, look: Look, layout: RoadLayout, environment: str) -> Surface:
    """Pavement material and defects of one frame."""
    materials = list(look.surfaces)
    weights = np.array(
        [0.45, 0.35, 0.2][: len(materials)] if environment == "highway" else [0.75, 0.25][: len(materials)]
    )
    material = str(rng.choice(materials, p=weights / weights.sum()))
    patches = tuple(
        Patch(s0, s0 + rng.uniform(0.6, 4.0), z0, z0 + rng.uniform(1.0, 12.0))
        for s0, z0 in zip(
            rng.uniform(layout.left_edge, layout.right_edge, size=int(rng.integers(0, 6))),
            rng.uniform(3.0, 120.0, size=6),
            strict=False,
        )
    )
    cracks = []
    for _ in range(int(rng.integers(0, 10))):
        steps = rng.normal(0, 0.25, size=(int(rng.integers(6, 30)), 2)) + np.array([0.0, 0.35])
        start = (rng.uniform(layout.left_edge, layout.right_edge), rng.uniform(3.0, 80.0))
        cracks.append(start + np.cumsum(steps, axis=0))
    return Surface(
        material=material,
        variant=int(rng.integers(2)),
        terrain=int(rng.integers(len(look.terrain))),
        verge=int(rng.integers(len(look.verge))),
        wear=int(rng.integers(2)),
        offsets=_offsets(rng.integers(0, TILE_PAD, size=(3, 2))),
        verge_width=float(rng.uniform(1.5, 5.0)),
        patches=patches,
        cracks=tuple(cracks),
        joint_spacing=float(rng.uniform(4.0, 5.0)) if material == "concrete" else 0.0,
        tracks=float(rng.uniform(0.0, 0.07)),
    )


def _offsets(rows_cols: np.ndarray) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """The three tiles' (row, col) crop offsets from a (3, 2) integer array."""
    (a, b), (c, d), (e, f) = (tuple(int(v) for v in pair) for pair in rows_cols)
    return (a, b), (c, d), (e, f)


def _col(s: float) -> int:
    return int(np.clip(round(s / BEV_RES_X + BEV_COLS / 2), 0, BEV_COLS))


def _row(z: float) -> int:
    return int(np.clip(round(z / BEV_RES_Z), 0, BEV_ROWS))


def compose_canvas(surface: Surface, layout: RoadLayout, bank: TextureBank) -> tuple[np.ndarray, np.ndarray]:
    """The bird's-eye grid of a frame: (rows, cols, 3) BGR and (rows, cols) paint condition."""
    (sr, sc), (tr, tc), (wr, wc) = surface.offsets
    condition = bank.wear[surface.wear][wr : wr + BEV_ROWS, wc : wc + BEV_COLS]
    canvas = np.empty((BEV_ROWS, BEV_COLS, 3), np.uint8)
    # Column bands, left to right: terrain, verge, pavement, verge, terrain.
    cuts = [
        0,
        _col(layout.left_edge - surface.verge_width),
        _col(layout.left_edge),
        _col(layout.right_edge),
        _col(layout.right_edge + surface.verge_width),
        BEV_COLS,
    ]
    terrain = bank.terrain[surface.terrain]
    verge = bank.verge[surface.verge]
    pavement = bank.surfaces[surface.material][surface.variant]
    sources = (
        (terrain, tr, tc),
        (verge, tr, tc),
        (pavement, sr, sc),
        (verge, tr, tc),
        (terrain, tr, tc),
    )
    for (tile, r, c), c0, c1 in zip(sources, cuts[:-1], cuts[1:], strict=True):
        canvas[:, c0:c1] = tile[r : r + BEV_ROWS, c + c0 : c + c1]
    if layout.crossing is not None:
        cr = layout.crossing
        r0, r1 = _row(cr.distance - 3.0), _row(cr.distance + cr.stripe_length + cr.width)
        canvas[r0:r1] = pavement[sr + r0 : sr + r1, :BEV_COLS]
    _details(canvas, surface, layout, bank)
    return canvas, condition


def _details(canvas: np.ndarray, surface: Surface, layout: RoadLayout, bank: TextureBank) -> None:
    """Patches and darker lane centres, drawn on the grid (thin lines are drawn in the
    image by :func:`draw_surface_lines`: a grid cell would make them 10 cm wide)."""
    other = bank.surfaces[surface.material][1 - surface.variant]
    for p in surface.patches:
        r0, r1, c0, c1 = _row(p.z0), _row(p.z1), _col(p.s0), _col(p.s1)
        canvas[r0:r1, c0:c1] = other[r0:r1, c0:c1]
    if surface.tracks > 0:
        # Oil and rubber darken the middle of each lane, most at its centre line.
        for half, share in ((0.6, 0.5), (0.35, 0.5)):
            scale = (1 - surface.tracks * share,) * 3 + (0.0,)
            for k in range(layout.n_lanes):
                centre = layout.lane_centre(k)
                band = canvas[:, _col(centre - half) : _col(centre + half)]
                cv2.multiply(band, scale, dst=band)  # type: ignore[call-overload]  # stubs lack scalars


def ground_maps(cam: Camera, road: RoadShape, row0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """remap() coordinates into the grid for image rows ``row0``..bottom (roll ignored),
    and each row's distance along the road."""
    rows = np.arange(row0, cam.height, dtype=np.float64)
    z, depth = cam.ground_rows(rows)
    far = ~np.isfinite(z) | (z > FAR_DISTANCE)
    z = np.where(far, FAR_DISTANCE, z)
    depth = np.where(far, FAR_DISTANCE, depth)
    slope = road.slope(z)
    inv = 1.0 / np.sqrt(1.0 + slope * slope)
    rays = ((np.arange(cam.width) - cam.cx) / cam.focal).astype(np.float32)
    gain = (depth * inv / BEV_RES_X).astype(np.float32)
    shift = (BEV_COLS / 2 - road.centre(z) * inv / BEV_RES_X).astype(np.float32)
    map_x = rays[None, :] * gain[:, None] + shift[:, None]
    map_y = np.empty_like(map_x)
    map_y[:] = (z / BEV_RES_Z).astype(np.float32)[:, None]
    return map_x, map_y, z


def render_ground(
    img: np.ndarray,
    cam: Camera,
    road: RoadShape,
    canvas: tuple[np.ndarray, np.ndarray],
    grain_tile: np.ndarray,
    grain_offset: int,
    haze: tuple[tuple[float, float, float], float],
) -> tuple[int, np.ndarray]:
    """Lay the grid into the image below the horizon; returns (first row, paint condition).

    The grid is resampled at half resolution and enlarged: a grid cell (10 cm) spans
    several pixels everywhere but at the horizon, so this loses nothing visible, halves
    the cost, and softens the far rows where the grid would alias. ``haze`` (colour,
    distance) fades far rows towards the horizon colour, as the air does. Near-field grain
    comes from the image-space ``grain_tile`` (procedural or from photos). Where roll tilts
    the horizon, only pixels below it are replaced.
    """
    height, width = img.shape[:2]
    ends = cam.horizon_rows(np.array([0.0, width - 1.0]))
    row0 = int(np.clip(np.floor(ends.min()), 0, height - 1))
    band_end = int(np.clip(np.ceil(ends.max()) + 1, row0, height))
    half = cam.scaled(0.5)
    map_x, map_y, z = ground_maps(half, road, row0 // 2)
    small = [cv2.remap(layer, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for layer in canvas]
    color, distance = haze
    fade = (1.0 - np.exp(-z / distance)).astype(np.float32)[:, None, None]
    small[0] = (small[0] * (1.0 - fade) + np.asarray(color, np.float32) * fade).astype(np.uint8)
    offset = row0 - 2 * (row0 // 2)
    bgr, condition = (
        cv2.resize(layer, (width, 2 * map_x.shape[0]), interpolation=cv2.INTER_LINEAR)[offset : offset + height - row0]
        for layer in small
    )
    grain = grain_tile[row0:height, grain_offset : grain_offset + width]
    cv2.addWeighted(bgr, 1.0, grain, 1.0, -128.0, dst=bgr)
    band = band_end - row0
    if band > 0:
        mask = np.zeros((band, width), np.uint8)
        u = np.array([0.0, width - 1.0])
        v = cam.horizon_rows(u) - row0
        poly = np.array([[0, v[0]], [width - 1, v[1]], [width - 1, band], [0, band]])
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
        cv2.copyTo(np.ascontiguousarray(bgr[:band]), mask, img[row0:band_end])
    img[band_end:] = bgr[band:]
    return row0, condition


JOINT_RANGE = 70.0  # metres; further joints are thinner than a pixel


def draw_surface_lines(img: np.ndarray, cam: Camera, road: RoadShape, surface: Surface, layout: RoadLayout) -> None:
    """Cracks (dark) and concrete slab joints (faint) as thin lines, in the image."""
    cracks = [np.stack(road.points(c[:, 0], c[:, 1]), 1) for c in surface.cracks]
    joints = []
    if surface.joint_spacing:
        s = np.linspace(layout.left_edge, layout.right_edge, 8)
        for z in np.arange(surface.joint_spacing, JOINT_RANGE, surface.joint_spacing):
            joints.append(np.stack(road.points(s, np.full_like(s, z)), 1))
    for lines, color in ((joints, (108, 110, 108)), (cracks, (48, 49, 50))):
        projected = (cam.project_ground(p[:, 0], p[:, 1]) for p in lines)
        visible = [fixed_point(uv) for uv, depth in projected if depth.min() > 1.0]
        if visible:
            cv2.polylines(img, visible, False, color, 1, cv2.LINE_AA, SHIFT)
