"""Lane rasterisation (lane_sad_core.data.raster)."""

from __future__ import annotations

import numpy as np

from lane_sad_core.data.raster import rasterize_lanes, scaled_thickness
from lane_sad_core.lanes import Lane


def test_culane_width_scales_to_about_eight_pixels_at_800x288() -> None:
    assert scaled_thickness(16, 800 / 1640, 288 / 590) == 8
    assert scaled_thickness(16, 1.0, 1.0) == 16
    assert scaled_thickness(1, 0.1, 0.1) == 1


def test_vertical_lane_covers_its_width_with_slot_plus_one() -> None:
    lane = Lane(np.array([[50.0, 99.0], [50.0, 0.0]]), slot=2)
    seg = rasterize_lanes([lane], (100, 100), thickness=5)
    cols = np.flatnonzero(seg[50])
    assert set(np.unique(seg)) == {0, 3}
    # OpenCV's thick lines (as used for CULane's official masks) are centred on the
    # polyline and one pixel wider on each side than the nominal thickness at most.
    assert cols.tolist() == list(range(cols[0], cols[-1] + 1))
    assert 5 <= len(cols) <= 7
    assert cols.mean() == 50


def test_lanes_without_slot_are_not_drawn() -> None:
    lane = Lane(np.array([[10.0, 10.0], [20.0, 90.0]]), slot=-1)
    assert not rasterize_lanes([lane], (100, 100), 3).any()
