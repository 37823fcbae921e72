"""Temporal smoothing of lanes: less jitter on a jittered sequence, no lag on a lane change, hold, restarts."""

from __future__ import annotations

import numpy as np
import pytest

from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.temporal import LaneTracker, TemporalConfig
from lane_sad_core.lanes import Lane
from lane_sad_core.metrics.stability import stability

SHAPE = (540, 960)
ROWS = 539 - 20 * np.arange(12)  # the bottom 220 rows, every 20th


def _lane(offset: float, slot: int = 1, noise: np.ndarray | None = None) -> Lane:
    """A straight lane leaning right, shifted by ``offset`` px, with optional per-row noise."""
    x = 300.0 + offset + 0.8 * (ROWS - 539) + (0.0 if noise is None else noise)
    return Lane(np.stack([x, ROWS], 1), slot=slot)


def _smooth(frames: list[list[Lane]], cfg: TemporalConfig | None = None, fps: float = 25.0) -> list[list[Lane]]:
    tracker = LaneTracker(cfg or TemporalConfig())
    return [tracker.update(lanes, SHAPE, i / fps) for i, lanes in enumerate(frames)]


def _jittered(n: int = 200, sigma: float = 4.0) -> list[list[Lane]]:
    rng = np.random.default_rng(0)
    return [[_lane(rng.normal(0, sigma), noise=rng.normal(0, sigma, len(ROWS)))] for _ in range(n)]


def test_smoothing_halves_p95_jitter_of_a_jittered_lane():
    raw = _jittered()
    before, after = stability(raw, SHAPE), stability(_smooth(raw), SHAPE)
    assert before.p95 > 10.0  # the noise is there: ~1.96 * sqrt(2) * 5.7 px
    assert after.p95 <= 0.5 * before.p95
    assert after.median <= 0.5 * before.median
    assert after.lanes == before.lanes  # nothing added or dropped


def test_a_lane_change_is_followed_at_once():
    # Frames 0-29 at 0, then the slot's lane 150 px to the right (the car changed lanes).
    raw = [[_lane(0.0 if i < 30 else 150.0)] for i in range(40)]
    out = _smooth(raw)
    assert np.allclose(out[30][0].points, raw[30][0].points)  # the gate restarts the track: no lag


def test_a_small_step_is_followed_within_a_few_frames():
    # 20 px is inside the gate (0.04 * 960 = 38 px): smoothed, it converges geometrically.
    raw = [[_lane(0.0 if i < 30 else 20.0)] for i in range(40)]
    out = _smooth(raw)
    error = [float(np.abs(out[i][0].points[:, 0] - raw[i][0].points[:, 0]).max()) for i in range(30, 40)]
    assert error[0] == pytest.approx(12.0)  # alpha 0.4: 40 % of the way on the first frame
    assert error[4] < 2.0 and error == sorted(error, reverse=True)


def test_a_missing_lane_is_held_then_dropped():
    lane = _lane(0.0)
    raw = [[lane], [], [], [lane], [], [], [], [lane]]
    out = _smooth(raw, TemporalConfig(hold=2))
    assert [len(f) for f in out] == [1, 1, 1, 1, 1, 1, 0, 1]
    assert np.allclose(out[1][0].points, lane.points)
    assert stability(raw, SHAPE).flickers == 2 and stability(out, SHAPE).flickers == 1


def test_time_going_back_or_a_long_gap_restarts_the_tracks():
    tracker = LaneTracker(TemporalConfig(alpha=0.5, gate=1.0))  # no gate: only a restart stops the blending
    tracker.update([_lane(0.0)], SHAPE, 10.0)
    assert tracker.update([_lane(10.0)], SHAPE, 10.04)[0].points[0, 0] == pytest.approx(305.0)
    assert tracker.update([_lane(30.0)], SHAPE, 1.0)[0].points[0, 0] == pytest.approx(330.0)  # back in time
    assert tracker.update([_lane(0.0)], SHAPE, 5.0)[0].points[0, 0] == pytest.approx(300.0)  # 4 s gap
    assert tracker.update([], SHAPE, 5.04) != []  # held
    assert tracker.update([], (720, 1280), 5.08) == []  # another size: another stream


def test_slots_are_smoothed_apart_and_rows_follow_the_new_lane():
    tracker = LaneTracker(TemporalConfig(alpha=0.5))
    tracker.update([_lane(0.0, slot=0), _lane(100.0, slot=1)], SHAPE, 0.0)
    short = Lane(_lane(110.0, slot=1).points[:5], slot=1)  # slot 1 now seen on its 5 lowest rows only
    out = tracker.update([_lane(4.0, slot=0), short], SHAPE, 0.04)
    assert [lane.slot for lane in out] == [0, 1]
    assert np.allclose(out[0].points[:, 0], _lane(2.0).points[:, 0])
    assert np.array_equal(out[1].points[:, 1], short.points[:, 1])  # ends where its evidence ends
    assert np.allclose(out[1].points[:, 0], _lane(105.0).points[:5, 0])


def test_bad_parameters_are_named():
    with pytest.raises(ConfigError, match="alpha"):
        TemporalConfig(alpha=0.0)
    with pytest.raises(ConfigError, match="hold"):
        TemporalConfig(hold=-1)
