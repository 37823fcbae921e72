"""Jitter and flicker of lane sequences with known motion."""

from __future__ import annotations

import math

import numpy as np

from lane_sad_core.lanes import Lane
from lane_sad_core.metrics.stability import stability

SHAPE = (200, 400)


def _vertical(x: float, slot: int, top: float = 100.0) -> Lane:
    ys = np.arange(199.0, top - 1, -10.0)
    return Lane(np.stack([np.full_like(ys, x), ys], 1), slot=slot)


def test_matched_lanes_jitter_at_fixed_rows():
    frames = [[_vertical(100, 0), _vertical(300, 1)], [_vertical(103, 0), _vertical(301, 1)]]
    report = stability(frames, SHAPE)  # rows 199, 179, ..., 119 (5 of them lie on both lanes)
    assert report.frames == 2 and report.lanes == 4
    assert sorted(set(report.displacements.tolist())) == [1.0, 3.0] and report.displacements.size == 10
    assert report.median == 2.0 and report.switches == 0 and report.flickers == 0


def test_only_shared_rows_count_and_far_moves_are_switches():
    frames = [[_vertical(100, 0, top=100)], [_vertical(104, 0, top=160)], [_vertical(300, 0)]]
    report = stability(frames, SHAPE)
    assert report.displacements.tolist() == [4.0, 4.0]  # rows 199 and 179: the second lane ends at 160
    assert report.switches == 1  # 196 px > 5 % of 400


def test_flickers_are_short_absences():
    lane = _vertical(100, 2)
    frames = [[lane], [], [lane], [], [], [], [], [lane], [lane]]
    report = stability(frames, SHAPE)
    assert report.flickers == 1  # the 1-frame gap; the 4-frame gap is a real absence
    assert math.isnan(stability([[lane]], SHAPE).p95)
