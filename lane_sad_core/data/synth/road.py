"""Road geometry: a clothoid-like centreline, lane boundaries and painted markings.

Everything is laid out in road-aligned coordinates (lateral offset ``s`` from the ego-lane
centre, distance ``z`` along the road) and turned into vehicle coordinates by offsetting
along the centreline's normal, so lanes stay parallel through curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

WHITE = (232, 236, 238)
YELLOW = (60, 185, 228)
DOUBLE_GAP = 0.12  # metres between the two lines of a double marking


@dataclass(frozen=True)
class RoadShape:
    """Centreline of the ego lane: x(z) = offset + heading z + c0 z^2/2 + c1 z^3/6.

    Attributes:
        offset: lateral position of the ego-lane centre at the camera, metres (+ right).
        heading: slope dx/dz at the camera (camera yaw relative to the road).
        curvature: curvature at the camera, 1/m (+ bends right).
        curvature_rate: change of curvature per metre (the clothoid term), 1/m^2.
    """

    offset: float = 0.0
    heading: float = 0.0
    curvature: float = 0.0
    curvature_rate: float = 0.0

    def centre(self, z: np.ndarray) -> np.ndarray:
        """Lateral position x of the centreline at distances z."""
        return self.offset + z * (self.heading + z * (self.curvature / 2 + z * self.curvature_rate / 6))

    def slope(self, z: np.ndarray) -> np.ndarray:
        """dx/dz of the centreline."""
        return self.heading + z * (self.curvature + z * self.curvature_rate / 2)

    def points(self, s: ArrayLike, z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Vehicle (x, z) of road-aligned points: ``s`` metres along the normal at ``z``."""
        s, z = np.asarray(s, float), np.asarray(z, float)
        slope = self.slope(z)
        norm = 1.0 / np.sqrt(1.0 + slope * slope)
        return self.centre(z) + s * norm, z - s * slope * norm


@dataclass(frozen=True)
class Marking:
    """The paint of one lane boundary.

    Attributes:
        lateral: offset of the boundary from the ego-lane centre, metres.
        style: ``solid``, ``dashed``, ``double`` (two solid lines), ``solid_dashed``
            (solid left, dashed right), ``dots`` (raised pavement markers) or ``none``.
        color: BGR paint colour.
        width: width of one painted line, metres.
        wear: 0 for fresh paint, 1 for none left.
        dash, gap, phase: dash pattern, metres.
        slot: label slot of the boundary, -1 when it is not labelled.
        z_start, z_end: stretch of road the boundary runs along, metres.
    """

    lateral: float
    style: str
    color: tuple[int, int, int]
    width: float
    wear: float
    dash: float = 3.0
    gap: float = 9.0
    phase: float = 0.0
    slot: int = -1
    z_start: float = 0.5
    z_end: float = 300.0


def geometric_samples(z0: float, z1: float, count: int) -> np.ndarray:
    """Distances from z0 to z1, denser near the camera where a metre spans more pixels."""
    lo = np.log(max(z0, 0.5))
    hi = np.log(max(z1, z0 + 1e-3))
    return np.exp(lo + (hi - lo) * np.linspace(0.0, 1.0, count))


def strip(road: RoadShape, s0: np.ndarray | float, s1: np.ndarray | float, z: np.ndarray) -> np.ndarray:
    """Polygons covering lateral [s0, s1] along distances z, in vehicle (x, z).

    With scalar offsets and z of shape (N,) this is one (2N, 2) polygon; with offsets of
    shape (K,) and z of shape (K, N) it is a (K, 2N, 2) batch, built in one pass.
    """
    s0 = np.asarray(s0, float)[..., None]
    s1 = np.asarray(s1, float)[..., None]
    xl, zl = road.points(s0, z)
    xr, zr = road.points(s1, z)
    xl, zl = np.broadcast_arrays(xl, zl)
    xr, zr = np.broadcast_arrays(xr, zr)
    left = np.stack([xl, zl], -1)
    right = np.stack([xr, zr], -1)[..., ::-1, :]
    return np.concatenate([left, right], axis=-2)


def dash_intervals(marking: Marking, z0: float, z1: float) -> np.ndarray:
    """(K, 2) start/end distances of the dashes of ``marking`` within [z0, z1]."""
    period = marking.dash + marking.gap
    first = np.floor((z0 - marking.phase) / period)
    starts = marking.phase + period * np.arange(first, (z1 - marking.phase) // period + 1)
    ends = np.minimum(starts + marking.dash, z1)
    starts = np.maximum(starts, z0)
    keep = ends > starts + 0.05
    return np.stack([starts[keep], ends[keep]], 1)


def _line(road: RoadShape, s: float, width: float, dashed: bool, marking: Marking, z0: float, z1: float) -> np.ndarray:
    """(K, M, 2) polygons of one painted line: a single strip, or one strip per dash."""
    if not dashed:
        return strip(road, s - width / 2, s + width / 2, geometric_samples(z0, z1, 48))[None]
    spans = dash_intervals(marking, z0, z1)
    z = spans[:, :1] + (spans[:, 1:] - spans[:, :1]) * np.linspace(0.0, 1.0, 4)[None, :]
    k = len(spans)
    return strip(road, np.full(k, s - width / 2), np.full(k, s + width / 2), z)


def _dots(road: RoadShape, marking: Marking, z0: float, z1: float) -> np.ndarray:
    """Raised pavement markers: squares every 1.2 m, grouped like dashes, nearer than 90 m."""
    size = max(marking.width, 0.1)
    spans = dash_intervals(marking, z0, min(z1, 90.0))
    starts = np.concatenate([np.arange(a, b, 1.2) for a, b in spans]) if len(spans) else np.zeros(0)
    z = starts[:, None] + np.array([0.0, size])[None, :]
    k = len(starts)
    return strip(road, np.full(k, marking.lateral - size / 2), np.full(k, marking.lateral + size / 2), z)


def marking_polygons(road: RoadShape, marking: Marking, z_near: float, z_far: float) -> list[np.ndarray]:
    """(K, M, 2) batches of ground polygons (vehicle x, z) of a boundary's paint."""
    z0, z1 = max(z_near, marking.z_start), min(z_far, marking.z_end)
    if z1 <= z0 or marking.style == "none":
        return []
    s, w = marking.lateral, marking.width
    if marking.style in ("solid", "dashed"):
        return [_line(road, s, w, marking.style == "dashed", marking, z0, z1)]
    if marking.style == "dots":
        return [_dots(road, marking, z0, z1)]
    offset = w + DOUBLE_GAP
    return [
        _line(road, s - offset / 2, w, False, marking, z0, z1),
        _line(road, s + offset / 2, w, marking.style == "solid_dashed", marking, z0, z1),
    ]


def lane_centreline(road: RoadShape, marking: Marking, z_near: float, z_far: float, count: int = 160) -> np.ndarray:
    """(N, 2) vehicle (x, z) along the centre of a boundary: what the labels follow."""
    z0, z1 = max(z_near, marking.z_start), min(z_far, marking.z_end)
    x, z = road.points(marking.lateral, geometric_samples(z0, z1, count))
    return np.stack([x, z], 1)
