"""Slot assignment by bottom x (lane_sad_core.data.slots)."""

from __future__ import annotations

import numpy as np
import pytest

from lane_sad_core.data.slots import assign_slots, bottom_x, flip_lanes
from lane_sad_core.lanes import Lane


def _lane(x_bottom: float, x_top: float, height: float = 590.0) -> Lane:
    ys = np.arange(height, 400, -10.0)
    xs = x_bottom + (x_top - x_bottom) * (height - ys) / (height - 400)
    return Lane(np.stack([xs, ys], 1))


def test_bottom_x_extrapolates_the_lower_half_to_the_image_bottom() -> None:
    lane = Lane(np.array([[100.0, 580.0], [110.0, 570.0], [120.0, 560.0], [400.0, 450.0]]))
    # Lower half = first two points: x = 100 + (580 - y); at y = 590 that is 90.
    assert bottom_x(lane, 590) == pytest.approx(90.0)


def test_slots_fill_outwards_from_the_centre() -> None:
    lanes = [_lane(1500, 900), _lane(-200, 700), _lane(450, 780), _lane(1000, 830)]
    slotted = assign_slots(lanes, 1640, 590, 4)
    assert [lane.slot for lane in slotted] == [0, 1, 2, 3]
    assert [round(lane.points[0, 0]) for lane in slotted] == [-200, 450, 1000, 1500]


def test_lanes_beyond_the_outer_slots_are_dropped_and_sides_are_kept() -> None:
    lanes = [_lane(-900, 600), _lane(-200, 700), _lane(450, 780), _lane(1000, 830)]
    slotted = assign_slots(lanes, 1640, 590, 4)
    assert [lane.slot for lane in slotted] == [0, 1, 2]
    only_right = assign_slots([_lane(1000, 830)], 1640, 590, 4)
    assert [lane.slot for lane in only_right] == [2]


def test_six_slots_split_three_and_three() -> None:
    lanes = [_lane(x, 800) for x in (-1500, -600, 300, 1100, 1900, 2800)]
    assert [lane.slot for lane in assign_slots(lanes, 1280, 720, 6)] == [0, 1, 2, 3, 4, 5]


def test_flip_mirrors_points_and_swaps_slots() -> None:
    lanes = assign_slots([_lane(450, 780), _lane(1000, 830)], 1640, 590, 4)
    flipped = flip_lanes(lanes, 1640, 4)
    assert [lane.slot for lane in flipped] == [1, 2]
    # The old ego-right lane (x=1000) is the new ego-left one, at 1639 - 1000.
    assert flipped[0].points[0, 0] == pytest.approx(639.0)
