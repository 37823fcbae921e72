"""Other road users: shaded boxes with windows, lights, plates, wheels and soft shadows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.layout import RoadLayout
from lane_sad_core.data.synth.looks import Look
from lane_sad_core.data.synth.road import RoadShape, strip
from lane_sad_core.data.synth.shapes import face_point, face_rect, fill, ground_uv, shade

# kind: (width, height, length) ranges in metres, ground clearance, relative frequency
# (urban, highway).
KINDS: dict[
    str,
    tuple[tuple[float, float], tuple[float, float], tuple[float, float], float, tuple[float, float]],
] = {
    "car": ((1.70, 1.85), (1.40, 1.50), (4.3, 4.8), 0.22, (6.0, 5.0)),
    "suv": ((1.80, 1.95), (1.62, 1.80), (4.5, 4.9), 0.28, (2.5, 3.0)),
    "van": ((1.80, 2.00), (1.90, 2.30), (4.8, 5.4), 0.25, (1.0, 0.8)),
    "truck": ((2.40, 2.55), (3.30, 4.10), (8.0, 14.0), 0.9, (0.8, 2.0)),
    "bus": ((2.45, 2.55), (3.00, 3.30), (10.0, 12.0), 0.35, (1.0, 0.1)),
}
GLASS = (58, 50, 46)
TYRE = (28, 28, 30)
RED_LIGHT = (40, 40, 200)
RED_LIGHT_ON = (90, 90, 255)


@dataclass(frozen=True)
class Vehicle:
    """A vehicle on the road.

    Attributes:
        kind: a key of :data:`KINDS`.
        lateral: road-aligned offset of its centre from the ego-lane centre, metres.
        distance: distance of its face nearest to the camera, metres along the road.
        width, height, length: metres.
        color: body colour (BGR).
        oncoming: True when it drives towards the camera (its front is seen).
        lights: True when its lights are on (night) or braking.
        crossing: True when it drives across the road (at a crossroad): its long side
            faces the camera.
    """

    kind: str
    lateral: float
    distance: float
    width: float
    height: float
    length: float
    color: tuple[float, float, float]
    oncoming: bool
    lights: bool
    crossing: bool = False


def _pick(rng: np.random.Generator, weights: np.ndarray) -> int:
    """Index drawn with relative ``weights`` (cheaper than ``rng.choice`` per call)."""
    cumulative = np.cumsum(weights)
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


def _kind(rng: np.random.Generator, environment: str) -> str:
    weights = np.array([k[4][0 if environment == "urban" else 1] for k in KINDS.values()])
    return list(KINDS)[_pick(rng, weights)]


def _color(rng: np.random.Generator, look: Look, kind: str) -> tuple[float, float, float]:
    if kind in ("truck", "bus") and rng.random() < 0.5:
        base = rng.uniform(60, 230, size=3)
    else:
        colors = [c for c, _ in look.vehicle_colors]
        base = np.asarray(colors[_pick(rng, np.array([w for _, w in look.vehicle_colors]))], float)
    r, g, b = (float(c) for c in np.clip(base * rng.uniform(0.85, 1.1), 0, 255))
    return r, g, b


def sample_traffic(
    rng: np.random.Generator,
    layout: RoadLayout,
    look: Look,
    environment: str,
    crowded: bool,
    night: bool,
) -> list[Vehicle]:
    """Vehicles in every lane: a few in free traffic, queues of close ones when crowded."""
    vehicles = []
    for lane in range(layout.n_lanes):
        oncoming = lane < layout.oncoming
        rate = 0.9 if crowded else 0.28
        z = rng.uniform(6.0, 14.0) if crowded else rng.uniform(9.0, 40.0)
        if lane == layout.ego:
            z = max(z, rng.uniform(8.0, 12.0) if crowded else 14.0)
        while z < (90.0 if crowded else 160.0):
            if rng.random() < rate:
                kind = _kind(rng, environment)
                w, h, length, _, _ = KINDS[kind]
                width = rng.uniform(*w)
                vehicles.append(
                    Vehicle(
                        kind=kind,
                        lateral=layout.lane_centre(lane) + rng.normal(0.0, 0.22),
                        distance=float(z),
                        width=width,
                        height=rng.uniform(*h),
                        length=rng.uniform(*length),
                        color=_color(rng, look, kind),
                        oncoming=oncoming,
                        lights=night or rng.random() < 0.15,
                    )
                )
                z += vehicles[-1].length
            z += rng.uniform(4.0, 12.0) if crowded else rng.uniform(12.0, 60.0)
    if layout.crossing is not None:
        vehicles += _cross_traffic(rng, layout, look, environment, night)
    return vehicles


def _cross_traffic(
    rng: np.random.Generator, layout: RoadLayout, look: Look, environment: str, night: bool
) -> list[Vehicle]:
    """A few vehicles driving across the intersection ahead."""
    crossing = layout.crossing
    assert crossing is not None  # only called for crossroads
    start = crossing.distance + crossing.stripe_length + 2.0
    out = []
    for _ in range(int(rng.integers(1, 5))):
        kind = _kind(rng, environment)
        w, h, length, _, _ = KINDS[kind]
        out.append(
            Vehicle(
                kind=kind,
                lateral=float(rng.uniform(layout.left_edge - 25.0, layout.right_edge + 25.0)),
                distance=float(start + rng.uniform(0.0, max(crossing.width - 6.0, 1.0))),
                width=rng.uniform(*w),
                height=rng.uniform(*h),
                length=rng.uniform(*length),
                color=_color(rng, look, kind),
                oncoming=False,
                lights=night,
                crossing=True,
            )
        )
    return out


def _extent(v: Vehicle) -> tuple[float, float]:
    """(across, along) the road: crossing vehicles are turned by 90 degrees."""
    return (v.length, v.width) if v.crossing else (v.width, v.length)


def footprints(road: RoadShape, vehicles: list[Vehicle], margin: float) -> np.ndarray:
    """(V, 8, 2) vehicle (x, z) polygons of the ground under each vehicle, grown by ``margin``."""
    lateral = np.array([v.lateral for v in vehicles])
    half = np.array([_extent(v)[0] / 2 for v in vehicles]) + margin
    z0 = np.array([v.distance for v in vehicles]) - margin
    z1 = np.array([v.distance + _extent(v)[1] for v in vehicles]) + margin
    z = z0[:, None] + (z1 - z0)[:, None] * np.linspace(0.0, 1.0, 4)[None, :]
    return strip(road, lateral - half, lateral + half, z)


def draw_vehicle_shadows(
    shade_layer: np.ndarray, row0: int, cam: Camera, road: RoadShape, vehicles: list[Vehicle]
) -> None:
    """Soft contact shadows of vehicles into the ground shade layer (rows from ``row0``)."""
    if not vehicles:
        return
    shift = np.array([0.0, row0])
    fill(shade_layer, ground_uv(cam, footprints(road, vehicles, 0.25)) - shift, 120)
    fill(shade_layer, ground_uv(cam, footprints(road, vehicles, -0.1)) - shift, 55)


@dataclass(frozen=True)
class VehicleShape:
    """A vehicle projected into the image: its box faces and the tyres under it."""

    vehicle: Vehicle
    faces: dict[str, np.ndarray]
    tyres: np.ndarray
    side: str | None
    roof: bool


def vehicle_shapes(cam: Camera, road: RoadShape, vehicles: list[Vehicle]) -> list[VehicleShape]:
    """Project every vehicle's box and tyres with one camera call."""
    if not vehicles:
        return []
    lat = np.array([v.lateral for v in vehicles])
    half = np.array([_extent(v)[0] / 2 for v in vehicles])
    near = np.array([v.distance for v in vehicles])
    # A crossing vehicle's near face is its side, drawn from the ground with its wheels.
    clearance = np.array([0.0 if v.crossing else KINDS[v.kind][3] for v in vehicles])
    height = np.array([v.height for v in vehicles])
    # Box corners [vehicle, near/far, left/right] and tyre corners [vehicle, tyre, inner/outer].
    s_box = np.stack([lat - half, lat + half], 1)[:, None, :]
    z_box = np.stack([near, near + np.array([_extent(v)[1] for v in vehicles])], 1)[:, :, None]
    s_tyre = np.stack([lat - half + 0.05, lat - half + 0.31, lat + half - 0.31, lat + half - 0.05], 1)
    z_tyre = (near + 0.7)[:, None]
    x_box, z_box = (np.broadcast_to(a, (len(lat), 2, 2)).reshape(-1, 4) for a in road.points(s_box, z_box))
    x_tyre, z_tyre = (np.broadcast_to(a, s_tyre.shape) for a in road.points(s_tyre, z_tyre))
    x = np.concatenate([x_box, x_tyre], 1)
    z = np.concatenate([z_box, z_tyre], 1)
    # Heights: body bottom, roof, ground, tyre top -> uv[vehicle, height, point].
    above = np.stack([clearance, height, np.zeros_like(height), clearance + 0.12], 1)
    uv, _ = cam.project_ground(x[:, None, :], z[:, None, :], above[:, :, None])
    centre = road.points(lat, near)[0]
    shapes = []
    for k, v in enumerate(vehicles):
        bottom, top = uv[k, 0, :4].reshape(2, 2, 2), uv[k, 1, :4].reshape(2, 2, 2)
        low, high = uv[k, 2, 4:], uv[k, 3, 4:]
        faces = {
            "near": np.array([bottom[0, 0], bottom[0, 1], top[0, 1], top[0, 0]]),
            "top": np.array([top[0, 0], top[0, 1], top[1, 1], top[1, 0]]),
            "left": np.array([bottom[1, 0], bottom[0, 0], top[0, 0], top[1, 0]]),
            "right": np.array([bottom[0, 1], bottom[1, 1], top[1, 1], top[0, 1]]),
        }
        tyres = np.array([[low[0], low[1], high[1], high[0]], [low[2], low[3], high[3], high[2]]])
        side = "left" if centre[k] > v.width / 2 else "right" if centre[k] < -v.width / 2 else None
        shapes.append(VehicleShape(v, faces, tyres, side, cam.mount_height > v.height))
    return shapes


def _lamps(
    v: Vehicle,
) -> tuple[list[tuple[float, float]], tuple[float, float], tuple[float, float, float]]:
    """Lamp columns, lamp rows and lamp colour on the near face."""
    if v.kind in ("car", "suv", "van"):
        if v.oncoming:
            return [(0.04, 0.24), (0.76, 0.96)], (0.38, 0.48), (210, 225, 230)
        return [(0.02, 0.2), (0.8, 0.98)], (0.4, 0.52), RED_LIGHT_ON if v.lights else RED_LIGHT
    rows = (0.09, 0.16) if v.kind == "truck" else (0.12, 0.3)
    return [(0.04, 0.12), (0.88, 0.96)], rows, RED_LIGHT_ON if v.lights else RED_LIGHT


# Cars and SUVs: lower body up to the window sill, then a cabin narrowing to the roof.
SILL = {"car": 0.55, "suv": 0.52}
GLASS_LIT = (96, 90, 86)  # upper glass reflecting the sky


def _cabin(face: np.ndarray, sill: float, inset: float) -> np.ndarray:
    """The cabin of a car face: a trapezoid from the sill to the roof, ``inset`` at the top."""
    return face_point(face, np.array([0.03, 0.97, 1 - inset, inset]), np.array([sill, sill, 1.0, 1.0]))


def _car_face(img: np.ndarray, face: np.ndarray, v: Vehicle, body: tuple[float, float, float]) -> None:
    """Body, cabin, rear/front screen with a sky reflection, bumper and plate."""
    sill = SILL[v.kind]
    fill(img, [face_rect(face, 0.0, 1.0, 0.0, sill)], body)
    fill(img, [_cabin(face, sill, 0.14)], shade(body, 0.95))
    top = 0.93
    glass = face_point(face, np.array([0.09, 0.91, 0.83, 0.17]), np.array([sill + 0.03] * 2 + [top] * 2))
    fill(img, [glass], GLASS)
    lit = face_point(face, np.array([0.14, 0.86, 0.83, 0.17]), np.array([0.82, 0.82, top, top]))
    fill(img, [lit], GLASS_LIT)
    fill(img, [face_rect(face, 0.0, 1.0, 0.0, 0.17)], shade(body, 0.55))
    if v.oncoming:
        fill(img, [face_rect(face, 0.34, 0.66, 0.25, 0.4)], shade(body, 0.35))
    fill(img, [face_rect(face, 0.4, 0.6, 0.2, 0.31)], (200, 120, 40))


def _car_side(img: np.ndarray, face: np.ndarray, v: Vehicle, right_side: bool) -> None:
    """Side of a car: body, a cabin over the middle, side windows.

    Along the side, t runs from the near end (0) to the far end (1); on a left face the
    bilinear coordinate a runs the other way.
    """
    sill = SILL[v.kind]
    body = shade(v.color, 0.62)
    fill(img, [face_rect(face, 0.0, 1.0, 0.0, sill)], body)

    def along(t: list[float]) -> np.ndarray:
        t_arr = np.asarray(t)
        return t_arr if right_side else 1.0 - t_arr

    cabin = face_point(face, along([0.12, 0.78, 0.62, 0.22]), np.array([sill, sill, 0.97, 0.97]))
    fill(img, [cabin], shade(body, 0.95))
    windows = face_point(face, along([0.17, 0.74, 0.6, 0.25]), np.array([sill + 0.05] * 2 + [0.9] * 2))
    fill(img, [windows], GLASS)


def _box_details(img: np.ndarray, face: np.ndarray, v: Vehicle) -> None:
    """Vans, trucks and buses: windows, bumper, door seam."""
    body = v.color
    if v.kind == "van":
        fill(img, [face_rect(face, 0.0, 1.0, 0.0, 0.2)], shade(body, 0.55))
        glass = face_point(face, np.array([0.1, 0.9, 0.86, 0.14]), np.array([0.5, 0.5, 0.92, 0.92]))
        fill(img, [glass], GLASS)
        fill(img, [face_rect(face, 0.4, 0.6, 0.22, 0.32)], (200, 120, 40))
    elif v.kind == "truck":
        fill(
            img,
            [face_rect(face, 0.0, 1.0, 0.0, 0.24), face_rect(face, 0.495, 0.505, 0.26, 0.98)],
            (35, 35, 38),
            disjoint=True,
        )
    else:
        fill(img, [face_rect(face, 0.05, 0.95, 0.68, 0.9)], GLASS)
        fill(img, [face_rect(face, 0.0, 1.0, 0.0, 0.1)], shade(body, 0.5))


def _side_view(img: np.ndarray, face: np.ndarray, v: Vehicle) -> None:
    """A vehicle seen from the side (crossing): body, cabin or box, windows, two wheels."""
    body = shade(v.color, 0.8)
    if v.kind in SILL:
        sill = SILL[v.kind]
        fill(img, [face_rect(face, 0.0, 1.0, 0.12, sill)], body)
        cabin = face_point(face, np.array([0.08, 0.92, 0.72, 0.28]), np.array([sill, sill, 1, 1]))
        fill(img, [cabin], shade(body, 0.95))
        low = sill + 0.03
        glass = face_point(face, np.array([0.14, 0.86, 0.7, 0.3]), np.array([low, low, 0.93, 0.93]))
        fill(img, [glass], GLASS)
    else:
        fill(img, [face_rect(face, 0.0, 1.0, 0.1, 1.0)], body)
        if v.kind != "truck":
            fill(img, [face_rect(face, 0.04, 0.96, 0.55, 0.85)], GLASS)
    wheels = [face_rect(face, a, a + 0.15, 0.0, 0.28) for a in (0.1, 0.75)]
    fill(img, wheels, TYRE, disjoint=True)


def draw_vehicle(img: np.ndarray, shape: VehicleShape, small: float = 14.0) -> list[tuple[float, float, float, bool]]:
    """Draw one projected vehicle; returns its lamps as (u, v, size px, is_headlight).

    Vehicles narrower than ``small`` pixels get only their body and lamps: finer detail
    would fall below a pixel and costs time.
    """
    v, faces = shape.vehicle, shape.faces
    near = faces["near"]
    size = float(np.linalg.norm(near[1] - near[0]))
    if v.crossing:
        _side_view(img, near, v)
        return []
    car = v.kind in SILL
    detailed = size >= small
    if detailed:
        fill(img, shape.tyres, TYRE, disjoint=True)
        if shape.side is not None:
            side = faces[shape.side]
            if car:
                _car_side(img, side, v, shape.side == "right")
            else:
                fill(img, [side], shade(v.color, 0.62))
                if v.kind != "truck":
                    a0, a1 = (0.15, 0.95) if shape.side == "right" else (0.05, 0.85)
                    fill(img, [face_rect(side, a0, a1, 0.6, 0.9)], GLASS)
        if shape.roof and not car:
            fill(img, [faces["top"]], shade(v.color, 1.08))
    if car and detailed:
        _car_face(img, near, v, shade(v.color, 0.86))
    else:
        fill(img, [near], shade(v.color, 0.86))
        if detailed:
            fill(img, [face_rect(near, 0.0, 1.0, 0.97, 1.0)], shade(v.color, 1.1))
            _box_details(img, near, v)
    columns, rows, color = _lamps(v)
    fill(img, [face_rect(near, a0, a1, *rows) for a0, a1 in columns], color, disjoint=True)
    centres = face_point(near, np.array([sum(c) / 2 for c in columns]), np.full(len(columns), sum(rows) / 2))
    return [(float(u), float(y), 0.09 * size, v.oncoming) for u, y in centres]
