"""Flat-ground projection against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np

from lane_sad_core.geometry import project_to_ground

K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])


def test_principal_point_of_a_pitched_camera_hits_at_h_over_tan_pitch() -> None:
    # The optical axis of a camera 1.5 m up, pitched down 0.1 rad meets the road at
    # 1.5 / tan(0.1) = 14.95 m straight ahead.
    g = project_to_ground([[640, 360]], K, height=1.5, pitch=0.1)
    np.testing.assert_allclose(g[0], [1.5 / math.tan(0.1), 0.0, 0.0], atol=1e-9)


def test_level_camera_row_below_centre() -> None:
    # Level camera: a point 100 px below the centre looks down by atan(0.1); it meets
    # the road 1.5 / 0.1 = 15 m ahead. 200 px to the right of centre: 0.2 * 15 = 3 m right.
    g = project_to_ground([[840, 460]], K, height=1.5, pitch=0.0)
    np.testing.assert_allclose(g[0], [15.0, -3.0, 0.0], atol=1e-9)


def test_points_at_or_above_horizon_are_nan() -> None:
    g = project_to_ground([[640, 360], [640, 100]], K, height=1.5, pitch=0.0)
    assert np.isnan(g[:, :2]).all()
