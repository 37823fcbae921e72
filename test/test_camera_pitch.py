"""Camera pitch from the ego lines' vanishing point: by hand, on synthetic frames, and over time.

Tolerances: one synthetic frame with a level camera (roll 0) gives its own pitch within 0.2
degree (worst measured: 0.06 degree over 58 CULane-like frames, 0.21 TuSimple-like); with the
preset's bumps (pitch 0.5 and roll 0.6 degree std a frame), the settled median of 3 s at 10 Hz
is within 0.5 degree of the camera's mounted pitch (worst measured: 0.26 degree over 20 drives
of each preset). ``python tools/ego_lane_accuracy.py`` measures them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from roadutil import camera_matrix, image_lanes, road_scenes

from lane_sad_core.camera_pitch import (
    PitchEstimator,
    PitchSettings,
    frame_pitch,
    pitch_from_vanishing_point,
    vanishing_point,
)
from lane_sad_core.data.synth import preset

K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])


def test_vanishing_point_of_two_straight_lines() -> None:
    rows = np.linspace(700.0, 400.0, 20)
    left = np.column_stack([600.0 - 2.0 * (rows - 300.0), rows])  # both meet at (600, 300)
    right = np.column_stack([600.0 + 1.5 * (rows - 300.0), rows])
    assert vanishing_point(left, right) == pytest.approx((600.0, 300.0))
    # 60 px above the principal point with f = 1000 px: looking down by atan(0.06).
    assert pitch_from_vanishing_point((600.0, 300.0), K) == pytest.approx(math.atan(0.06))


def test_no_vanishing_point_from_lines_that_do_not_meet_above_them() -> None:
    rows = np.linspace(700.0, 400.0, 20)
    parallel = [np.column_stack([x0 + 0.0 * rows, rows]) for x0 in (300.0, 900.0)]
    assert vanishing_point(*parallel) is None
    diverging = [np.column_stack([600.0 + s * (rows - 300.0), rows]) for s in (1.5, -2.0)]  # meet below
    assert vanishing_point(*diverging) is None
    assert frame_pitch(np.zeros((1, 2)), parallel[1], K) is None


def test_each_level_synthetic_frame_gives_its_pitch() -> None:
    errors = []
    for scene in road_scenes("culane", 30, seed=7, roll_jitter_deg=0.0):
        lanes = image_lanes(scene)
        if 1 in lanes and 2 in lanes:
            estimate = frame_pitch(lanes[1], lanes[2], camera_matrix(scene.camera))
            assert estimate is not None
            errors.append(abs(math.degrees(estimate - scene.camera.pitch)))
    assert len(errors) >= 20 and max(errors) < 0.2, max(errors)


@pytest.mark.parametrize("name", ["culane", "tusimple"])
def test_settled_estimate_recovers_the_mounted_pitch(name: str) -> None:
    mounted = preset(name).camera().pitch
    estimator = PitchEstimator(PitchSettings(window=3.0, min_frames=15))
    for i, scene in enumerate(road_scenes(name, 60, seed=11)):
        lanes = image_lanes(scene)
        seen = 1 in lanes and 2 in lanes
        estimator.add(0.1 * i, frame_pitch(lanes[1], lanes[2], camera_matrix(scene.camera)) if seen else None)
    assert estimator.settled and estimator.value is not None
    assert abs(math.degrees(estimator.value - mounted)) < 0.5, math.degrees(estimator.value - mounted)


def test_estimator_settles_once_enough_frames_agree() -> None:
    est = PitchEstimator(PitchSettings(window=2.0, min_frames=5, agreement=0.01))
    for i in range(4):
        est.add(0.1 * i, 0.05)
    assert not est.settled and est.value is None and est.estimate == pytest.approx(0.05)
    est.add(0.4, 0.051)
    assert est.settled and est.value == pytest.approx(0.05)
    for i in range(3):  # a few wild frames (a lane change): still most agree
        est.add(0.5 + 0.1 * i, 0.3)
    assert est.settled and est.value == pytest.approx(0.05, abs=0.001)


def test_estimator_forgets_old_frames_and_keeps_the_last_settled_value() -> None:
    est = PitchEstimator(PitchSettings(window=1.0, min_frames=3, agreement=0.01))
    for i in range(4):
        est.add(0.1 * i, 0.04)
    assert est.value == pytest.approx(0.04)
    for i in range(6):  # frames without an estimate move the window on
        est.add(2.0 + 0.1 * i, None)
    assert est.frames == 0 and not est.settled and est.value == pytest.approx(0.04)
    est.add(3.0, 0.1)
    est.add(1.0, 0.1)  # time went back: the window restarts
    assert est.frames == 1
