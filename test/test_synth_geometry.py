"""Camera and road geometry of the synthetic generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.presets import PRESETS, preset
from lane_sad_core.data.synth.road import Marking, RoadShape, dash_intervals
from lane_sad_core.errors import ConfigError


def test_level_camera_puts_ground_points_at_f_h_over_z_below_centre() -> None:
    cam = Camera.centred(1000, 500, focal=800.0, mount_height=1.5, pitch=0.0)
    uv, depth = cam.project_ground(np.array([0.0, 2.0]), np.array([10.0, 20.0]))
    assert uv[0] == pytest.approx([500.0, 250.0 + 800 * 1.5 / 10])
    assert uv[1] == pytest.approx([500.0 + 800 * 2 / 20, 250.0 + 800 * 1.5 / 20])
    assert depth == pytest.approx([10.0, 20.0])


def test_pitch_moves_the_horizon_and_rows_invert_to_distance() -> None:
    cam = Camera.centred(1280, 720, focal=1000.0, mount_height=1.6, pitch=math.radians(5.0))
    assert cam.horizon_rows(np.array([640.0]))[0] == pytest.approx(360 - 1000 * math.tan(math.radians(5)))
    z = np.array([5.0, 12.0, 60.0])
    rows = cam.project_ground(np.zeros(3), z)[0][:, 1]
    assert cam.ground_rows(rows)[0] == pytest.approx(z)
    assert np.isnan(cam.ground_rows(np.array([100.0]))[0][0])  # above the horizon


def test_roll_tilts_the_horizon() -> None:
    cam = Camera.centred(1000, 500, 800.0, 1.5, 0.0, roll=math.radians(2.0))
    left, right = cam.horizon_rows(np.array([0.0, 999.0]))
    assert right - left == pytest.approx(999 * math.tan(math.radians(2.0)), rel=1e-6)


def test_preset_pitch_puts_the_horizon_where_the_real_frames_have_it() -> None:
    for name, horizon in (("culane", 0.645), ("tusimple", 0.335)):
        cam = PRESETS[name].camera()
        assert cam.horizon_rows(np.array([cam.cx]))[0] == pytest.approx(horizon * cam.height)


def test_preset_overrides_are_checked() -> None:
    assert preset("culane", focal=900.0).focal == 900.0
    with pytest.raises(ConfigError, match=r"unknown key\(s\) preset.zoom"):
        preset("culane", zoom=2)
    with pytest.raises(ConfigError, match="unknown synthetic format 'kitti'"):
        preset("kitti")


def test_offsets_along_the_normal_keep_lanes_parallel_in_curves() -> None:
    road = RoadShape(offset=0.3, heading=0.02, curvature=1 / 150, curvature_rate=1e-5)
    z = np.linspace(0, 80, 50)
    x0, z0 = road.points(0.0, z)
    x1, z1 = road.points(3.5, z)
    assert np.hypot(x1 - x0, z1 - z0) == pytest.approx(np.full(50, 3.5))
    assert road.centre(np.array([0.0]))[0] == pytest.approx(0.3)


def test_dashes_follow_the_pattern_and_are_clipped_to_the_range() -> None:
    m = Marking(
        lateral=1.8,
        style="dashed",
        color=(255, 255, 255),
        width=0.1,
        wear=0.0,
        dash=3.0,
        gap=9.0,
        phase=2.0,
    )
    spans = dash_intervals(m, 0.0, 40.0)
    # Dashes start at 2 + 12 k and last 3 m; the last one is cut at 40 m.
    assert spans.tolist() == [[2.0, 5.0], [14.0, 17.0], [26.0, 29.0], [38.0, 40.0]]
