"""Lane layout of a frame: how many lanes, where the camera is, and the paint on them.

Boundaries are indexed relative to the ego lane: boundary ``j`` lies at lateral offset
``(j + 0.5) * lane_width``, so ``j = -1`` is the ego-left and ``j = 0`` the ego-right
boundary. CULane's four slots are ``j = -2, -1, 0, 1``, and ``preset.slots`` of them in general
(``j + slots // 2``, six slots: ``j = -3 .. 2``); TuSimple labels the same four and, now and then,
one more outside them (real TuSimple frames have up to five lanes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lane_sad_core.data.synth.presets import SynthPreset
from lane_sad_core.data.synth.road import WHITE, YELLOW, Marking, RoadShape, strip

ARROW_KINDS = ("straight", "left", "right", "straight_left", "straight_right")


@dataclass(frozen=True)
class Arrow:
    """A painted direction arrow in a lane (CULane's ``arrow`` category)."""

    kind: str
    lateral: float
    distance: float
    length: float
    color: tuple[int, int, int]
    wear: float


@dataclass(frozen=True)
class Crossing:
    """An intersection ahead: zebra stripes, then open asphalt across the road."""

    distance: float
    stripe_length: float
    width: float  # length of the intersection along the road, metres


@dataclass
class RoadLayout:
    """Lanes, edges and paint of the road in a frame.

    Attributes:
        lane_width: metres.
        n_lanes: lanes of the carriageway the camera drives on (both directions when the
            road is undivided).
        ego: index of the ego lane from the left.
        oncoming: number of lanes, counted from the left, whose traffic comes towards us.
        left_edge, right_edge: lateral offsets of the paved edges (shoulders included).
        markings: every boundary's paint, left to right.
        arrows: painted arrows.
        crossing: intersection ahead, or None.
    """

    lane_width: float
    n_lanes: int
    ego: int
    oncoming: int
    left_edge: float
    right_edge: float
    markings: list[Marking]
    arrows: list[Arrow] = field(default_factory=list)
    crossing: Crossing | None = None

    def lane_centre(self, k: int) -> float:
        """Lateral offset of the centre of lane ``k`` (0 = leftmost)."""
        return (k - self.ego) * self.lane_width


def sample_road_shape(rng: np.random.Generator, preset: SynthPreset, lane_width: float, curved: bool) -> RoadShape:
    """Centreline: nearly straight, or a real bend (radius 120-450 m) for ``curve``."""
    limit = lane_width / 2 - 0.55
    offset = float(np.clip(rng.normal(0.0, preset.lateral_offset_std), -limit, limit))
    heading = float(rng.normal(0.0, 0.012))
    if curved:
        curvature = float(rng.choice([-1, 1]) / rng.uniform(120.0, 450.0))
        rate = float(rng.normal(0.0, 2e-5))
    else:
        curvature = float(rng.normal(0.0, 1 / 3000))
        rate = float(rng.normal(0.0, 2e-6))
    return RoadShape(offset, heading, curvature, rate)


def _wear(rng: np.random.Generator, noline: bool) -> float:
    if noline:
        return float(rng.uniform(0.75, 0.97))
    return float(np.clip(rng.beta(1.6, 5.0), 0.0, 0.9))


def _edge_style(
    rng: np.random.Generator, preset: SynthPreset, left: bool, divided: bool
) -> tuple[str, tuple[int, int, int]]:
    if preset.environment == "highway":
        if rng.random() < 0.1:
            return "none", WHITE
        return "solid", YELLOW if left else WHITE
    if left and not divided:
        return str(rng.choice(["double", "solid", "solid_dashed"], p=[0.6, 0.3, 0.1])), YELLOW
    if rng.random() < 0.15:
        return "none", WHITE
    return "solid", YELLOW if (left and rng.random() < 0.3) else WHITE


def _inner_style(rng: np.random.Generator, preset: SynthPreset) -> str:
    if preset.environment == "highway":
        return str(rng.choice(["dashed", "dots"], p=[0.75, 0.25]))
    return str(rng.choice(["dashed", "solid"], p=[0.85, 0.15]))


def _slot_of(j: int, preset: SynthPreset, extra_side: int) -> int:
    """Label slot of boundary j: the preset's slots around the ego lane, plus TuSimple's fifth."""
    half = preset.slots // 2
    if -half <= j < preset.slots - half:
        return j + half
    extra = -half - 1 if extra_side < 0 else preset.slots - half
    if preset.max_labelled > preset.slots and extra_side and j == extra:
        return preset.slots  # past the others on either side: TuSimple's labels carry no slots
    return -1


def sample_markings(
    rng: np.random.Generator,
    preset: SynthPreset,
    n_lanes: int,
    ego: int,
    lane_width: float,
    divided: bool,
    centre_line: int | None,
    noline: bool,
) -> list[Marking]:
    """Paint of every boundary, left to right; ``centre_line`` is the opposing-traffic line."""
    width = rng.uniform(*preset.marking_width)
    dash = rng.uniform(*preset.dash_length)
    gap = rng.uniform(*preset.dash_gap)
    extra_side = int(rng.choice([-1, 1])) if rng.random() < 0.15 else 0
    markings = []
    for j in range(-ego - 1, n_lanes - ego):
        left_edge, right_edge = j == -ego - 1, j == n_lanes - ego - 1
        color = WHITE
        if left_edge or right_edge:
            style, color = _edge_style(rng, preset, left_edge, divided or centre_line is not None)
        elif centre_line is not None and j == centre_line - ego - 1:
            style, color = str(rng.choice(["double", "solid"], p=[0.75, 0.25])), YELLOW
        else:
            style = _inner_style(rng, preset)
        if noline and rng.random() < 0.25:
            style = "none"
        slot = _slot_of(j, preset, extra_side) if style != "none" or noline else -1
        markings.append(
            Marking(
                lateral=(j + 0.5) * lane_width,
                style=style,
                color=_paint(rng, color),
                width=width * (1.5 if style == "dots" else rng.uniform(0.95, 1.05)),
                wear=_wear(rng, noline),
                dash=dash,
                gap=gap,
                phase=float(rng.uniform(0, dash + gap)),
                slot=slot,
            )
        )
    return markings


def _paint(rng: np.random.Generator, color: tuple[int, int, int]) -> tuple[int, int, int]:
    """Paint colour with age: a little darker and less saturated."""
    age = rng.uniform(0.0, 0.35)
    grey = np.mean(color)
    tone = (1 - age) * np.asarray(color, float) + age * grey
    r, g, b = (int(c) for c in np.clip(tone * rng.uniform(0.82, 1.0), 0, 255))
    return r, g, b


def sample_layout(rng: np.random.Generator, preset: SynthPreset, category: str) -> tuple[RoadLayout, RoadShape]:
    """Lanes, paint and centreline of one frame of ``category``."""
    lane_width = float(rng.uniform(*preset.lane_width))
    counts = np.asarray(preset.lane_counts, float)
    n_lanes = int(rng.choice(np.arange(2, 2 + len(counts)), p=counts / counts.sum()))
    # Cameras mostly drive in inner lanes, where all four CULane slots have a boundary.
    lane_weights = np.where((np.arange(n_lanes) > 0) & (np.arange(n_lanes) < n_lanes - 1), 5.0, 1.0)
    ego = int(rng.choice(n_lanes, p=lane_weights / lane_weights.sum()))
    divided = preset.environment == "highway" or rng.random() < 0.5
    centre_line = None
    oncoming = 0
    if not divided and ego > 0:
        oncoming = int(rng.integers(1, ego + 1))
        centre_line = oncoming
    shape = sample_road_shape(rng, preset, lane_width, curved=category == "curve")
    markings = sample_markings(rng, preset, n_lanes, ego, lane_width, divided, centre_line, noline=category == "noline")
    shoulder = (0.3, 1.2) if preset.environment == "urban" else (0.8, 3.2)
    layout = RoadLayout(
        lane_width=lane_width,
        n_lanes=n_lanes,
        ego=ego,
        oncoming=oncoming,
        left_edge=(-ego - 0.5) * lane_width - rng.uniform(*shoulder),
        right_edge=(n_lanes - ego - 0.5) * lane_width + rng.uniform(*shoulder),
        markings=markings,
    )
    if category == "cross":
        _make_crossing(rng, layout)
    if category == "arrow" or rng.random() < 0.06:
        layout.arrows = _sample_arrows(rng, layout, many=category == "arrow")
    return layout, shape


def _make_crossing(rng: np.random.Generator, layout: RoadLayout) -> None:
    """An intersection ahead: no lane is labelled and the paint starts past the crossing."""
    crossing = Crossing(
        distance=float(rng.uniform(6.0, 22.0)),
        stripe_length=float(rng.uniform(3.0, 5.0)),
        width=float(rng.uniform(18.0, 32.0)),
    )
    layout.crossing = crossing
    resume = crossing.distance + crossing.stripe_length + crossing.width
    layout.markings = [replace(m, slot=-1, z_start=resume) for m in layout.markings]


def _sample_arrows(rng: np.random.Generator, layout: RoadLayout, many: bool) -> list[Arrow]:
    lanes = range(layout.oncoming, layout.n_lanes)
    arrows = []
    for k in lanes:
        if not many and k != layout.ego:
            continue
        if k == layout.ego or rng.random() < 0.6:
            arrows.append(
                Arrow(
                    kind=str(rng.choice(ARROW_KINDS)),
                    lateral=layout.lane_centre(k),
                    distance=float(rng.uniform(7.0, 30.0)),
                    length=float(rng.uniform(4.5, 6.0)),
                    color=_paint(rng, WHITE),
                    wear=float(rng.beta(1.5, 5.0)),
                )
            )
    return arrows


def _arrow_outline(kind: str, length: float) -> list[np.ndarray]:
    """Arrow shapes as (s, z) polygons in metres, local to the arrow's base centre."""
    shaft_w, head_w, head_l = 0.15, 0.6, 0.35 * length
    shaft_top = length - head_l
    out = []
    if kind.startswith("straight"):
        out.append(
            np.array(
                [
                    [-shaft_w, 0],
                    [shaft_w, 0],
                    [shaft_w, shaft_top],
                    [head_w, shaft_top],
                    [0, length],
                    [-head_w, shaft_top],
                    [-shaft_w, shaft_top],
                ]
            )
        )
    for side in ("left", "right"):
        if side not in kind:
            continue
        base = 0.45 * length if kind.startswith("straight") else shaft_top
        # Left-turn head in (s, z - base) units of ~1 m, stretched along z because the
        # painted arrows are elongated to read well in perspective.
        turn = np.array(
            [
                [-shaft_w, -base],
                [shaft_w, -base],
                [shaft_w, 0.0],
                [0.0, 0.7],
                [-0.9, 0.9],
                [-0.9, 1.4],
                [-1.6, 0.55],
                [-0.9, -0.3],
                [-0.9, 0.2],
                [-shaft_w, -0.2],
            ]
        )
        stretch = length / 4.0
        turn[2:, 1] *= stretch
        turn[:, 1] += base
        if side == "right":
            turn[:, 0] = -turn[:, 0]
        out.append(turn)
    return out


def arrow_polygons(road: RoadShape, arrow: Arrow) -> list[np.ndarray]:
    """(1, M, 2) batches of vehicle (x, z) polygons of an arrow's paint."""
    polys = []
    for local in _arrow_outline(arrow.kind, arrow.length):
        x, z = road.points(arrow.lateral + local[:, 0], arrow.distance + local[:, 1])
        polys.append(np.stack([x, z], 1)[None])
    return polys


def crossing_polygons(road: RoadShape, layout: RoadLayout) -> list[np.ndarray]:
    """Batches of zebra stripes (0.45 m wide, 0.6 m apart) and the stop line before them."""
    crossing = layout.crossing
    if crossing is None:
        return []
    z0 = crossing.distance
    starts = np.arange(layout.left_edge + 0.6, layout.right_edge - 0.6, 1.05)
    z = np.broadcast_to(np.linspace(z0, z0 + crossing.stripe_length, 3), (len(starts), 3))
    stripes = strip(road, starts, starts + 0.45, z)
    stop = np.linspace(layout.left_edge + 0.3, layout.right_edge - 0.3, 12)
    x0, zz0 = road.points(stop, z0 - 2.5)
    x1, zz1 = road.points(stop, z0 - 2.1)
    line = np.concatenate([np.stack([x0, zz0], 1), np.stack([x1, zz1], 1)[::-1]])
    return [stripes, line[None]]
