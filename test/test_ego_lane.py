"""The ego lane in metres: cases worked out by hand, then synthetic frames of known geometry.

Tolerances on synthetic frames (ground-truth image lanes rounded to whole pixels, projected
with the frame's own camera height and pitch, as the node projects detections):

* roll 0: width and offset within 0.05 m, heading within 0.01 rad, curvature within 1e-3 /m
  (worst measured: 0.021 m, 0.031 m, 0.0065 rad, 3.8e-4 /m over 57 CULane-like frames);
* the preset's roll jitter (0.6 degree std, which the node does not model): width and offset
  within 0.15 m (worst measured: 0.048 m and 0.092 m CULane-like, 0.10 m and 0.11 m TuSimple-like).

``python tools/ego_lane_accuracy.py`` measures them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from roadutil import ground_lanes, road_scenes

from lane_sad_core.data.synth import Scene
from lane_sad_core.ego_lane import EgoLaneConfig, ego_lane, ego_slots, fit_line

CONFIG = EgoLaneConfig()
X = np.linspace(5.0, 35.0, 40)


def _line(y: np.ndarray) -> np.ndarray:
    return np.column_stack([X, y, np.zeros_like(X)])


def test_ego_slots_are_the_middle_two() -> None:
    assert ego_slots(4) == (1, 2)
    assert ego_slots(6) == (2, 3)


def test_straight_lane_with_the_vehicle_left_of_centre() -> None:
    # Lines 1.6 m left and 1.9 m right: a 3.5 m lane whose centre is 0.15 m to the right
    # (y = -0.15), so the vehicle sits 0.15 m left of it: offset +0.15.
    ego = ego_lane({1: _line(np.full_like(X, 1.6)), 2: _line(np.full_like(X, -1.9))}, 4, CONFIG)
    assert ego.valid and not ego.departure
    assert ego.width == pytest.approx(3.5) and ego.offset == pytest.approx(0.15)
    assert ego.heading == pytest.approx(0.0, abs=1e-12) and ego.curvature == pytest.approx(0.0, abs=1e-12)


def test_lane_turning_left_of_the_vehicle() -> None:
    # The lane runs at +0.1 rad (to the left): the vehicle points 0.1 rad right of it
    # (heading -0.1), and its 3.5 m measured along y is 3.5 cos(0.1) across the lane.
    slope = math.tan(0.1)
    ego = ego_lane({1: _line(1.75 + slope * X), 2: _line(-1.75 + slope * X)}, 4, CONFIG)
    assert ego.heading == pytest.approx(-0.1)
    assert ego.width == pytest.approx(3.5 * math.cos(0.1))
    assert ego.offset == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("bend", [1.0, -1.0])
def test_curvature_of_a_circle_sign_by_its_side(bend: float) -> None:
    # Lines on circles of radius 250 m about a centre 250 m to the left (+y) or right.
    radius = 250.0

    def arc(r: float) -> np.ndarray:
        return bend * (radius - np.sqrt(r * r - X * X))

    ego = ego_lane({1: _line(arc(radius - bend * 1.75)), 2: _line(arc(radius + bend * 1.75))}, 4, CONFIG)
    assert ego.curvature == pytest.approx(bend / radius, rel=0.02)
    assert ego.width == pytest.approx(3.5, abs=0.01)


def test_departure_by_the_thresholds() -> None:
    # 3.5 m lane, 0.9 m half width, 0.1 m margin: departure past |offset| 0.75 m.
    def offset_by(y: float) -> bool:
        lines = {1: _line(np.full_like(X, 1.75 - y)), 2: _line(np.full_like(X, -1.75 - y))}
        return ego_lane(lines, 4, CONFIG).departure

    assert not offset_by(0.7) and not offset_by(-0.7)
    assert offset_by(0.8) and offset_by(-0.8)
    assert ego_lane(
        {1: _line(np.full_like(X, 1.75)), 2: _line(np.full_like(X, -1.75))},
        4,
        dataclasses.replace(CONFIG, half_width=1.7),
    ).departure  # a vehicle nearly as wide as the lane departs even in its centre


@pytest.mark.parametrize(
    "lines",
    [
        {1: _line(np.full_like(X, 1.75))},  # the right line not seen
        {1: _line(np.full_like(X, 1.75)), 2: np.full((10, 3), np.nan)},  # right line above the horizon
        {1: _line(np.full_like(X, 1.75)), 2: _line(np.full_like(X, -1.75))[:2]},  # two points only
        {0: _line(np.full_like(X, 5.25)), 1: _line(np.full_like(X, 1.75))},  # not the ego lines
        {1: _line(np.full_like(X, -1.75)), 2: _line(np.full_like(X, 1.75))},  # crossed: no lane between
    ],
)
def test_not_valid_without_both_ego_lines(lines: dict[int, np.ndarray]) -> None:
    ego = ego_lane(lines, 4, CONFIG)
    assert not ego.valid and not ego.departure
    assert all(math.isnan(v) for v in (ego.width, ego.offset, ego.heading, ego.curvature))


def test_short_lines_are_fitted_straight() -> None:
    # 6 m of line: a parabola would follow the noise, a straight line does not bend.
    x = np.linspace(5.0, 11.0, 8)
    noisy = np.column_stack([x, 1.75 + 0.02 * (-1) ** np.arange(8), np.zeros(8)])
    assert fit_line(noisy, CONFIG).degree() == 1
    assert fit_line(_line(np.full_like(X, 1.75)), CONFIG).degree() == 2


def _truth(scene: Scene) -> tuple[float, float, float, float]:
    """Width, offset (+ left), heading (+ left) and curvature (+ left) at the look-ahead, from the generator.

    The generator's road frame has x to the right and curvature positive bending right.
    """
    road = scene.road
    slope = road.slope(CONFIG.lookahead)
    curvature = (road.curvature + road.curvature_rate * CONFIG.lookahead) / (1.0 + slope * slope) ** 1.5
    return scene.layout.lane_width, road.offset * math.cos(road.heading), math.atan(road.heading), -curvature


def _errors(scenes) -> np.ndarray:
    """(frames, 4) errors of width, offset, heading, curvature on every frame with both ego lines."""
    rows = []
    for scene in scenes:
        lanes = ground_lanes(scene)
        if not all(slot in lanes for slot in ego_slots(4)):
            continue
        ego = ego_lane(lanes, 4, CONFIG)
        assert ego.valid, "both ego lines are in the frame"
        rows.append(np.subtract((ego.width, ego.offset, ego.heading, ego.curvature), _truth(scene)))
    assert len(rows) >= 20
    return np.abs(np.array(rows))


def test_synthetic_frames_level_camera() -> None:
    err = _errors(road_scenes("culane", 40, seed=3, roll_jitter_deg=0.0))
    worst = err.max(axis=0)
    assert (worst < [0.05, 0.05, 0.01, 1e-3]).all(), f"worst width, offset, heading, curvature errors {worst}"


@pytest.mark.parametrize("name", ["culane", "tusimple"])
def test_synthetic_frames_with_the_presets_roll(name: str) -> None:
    err = _errors(road_scenes(name, 40, seed=3))
    assert err[:, 0].max() < 0.15 and err[:, 1].max() < 0.15


def _shifted(scene: Scene, offset: float) -> Scene:
    """The same scene with the camera ``offset`` metres right of the lane centre (generator's sign)."""
    return dataclasses.replace(scene, road=dataclasses.replace(scene.road, offset=offset))


def test_departure_on_frames_near_a_line() -> None:
    flagged = []
    for scene in road_scenes("culane", 12, seed=5, categories=("normal",), roll_jitter_deg=0.0):
        threshold = scene.layout.lane_width / 2 - CONFIG.half_width - CONFIG.margin
        for shift, departs in ((0.0, False), (threshold - 0.2, False), (threshold + 0.2, True)):
            for side in (1.0, -1.0):
                lanes = ground_lanes(_shifted(scene, side * shift))
                if all(slot in lanes for slot in ego_slots(4)):
                    ego = ego_lane(lanes, 4, CONFIG)
                    assert ego.departure == departs, (shift, side, ego)
                    assert ego.offset == pytest.approx(side * shift, abs=0.05)
                    flagged.append(ego.departure)
    assert sum(flagged) >= 10 and len(flagged) - sum(flagged) >= 10
