"""Post-processing on synthetic probability maps with known lanes (CULane geometry)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps, sample_rows
from lane_sad_core.infer.postprocess import _smoothed_rows as smoothed_rows

SRC = (590, 1640)
PRE = PreprocessConfig(width=800, height=288)
OFFICIAL_ROWS = 589 - 20 * np.arange(18)  # 0-based form of the official y = 590, 570, ..., 250
OFFICIAL = PostprocessConfig(num_rows=18, fit="official")  # the paper's decoding on its 18 rows, whatever the crop


def _maps(lanes: int = 4) -> np.ndarray:
    prob = np.zeros((lanes + 1, 288, 800), dtype=np.float32)
    prob[0] = 1.0
    return prob


def _stripe(prob: np.ndarray, channel: int, center, rows: slice | None = None) -> None:
    """A 9-px wide stripe of probability 1 centred on ``center`` (scalar or per-row array)."""
    centers = np.broadcast_to(np.asarray(center), (288,))
    for r in range(288)[rows or slice(None)]:
        prob[channel, r, centers[r] - 4 : centers[r] + 5] = 1.0


def test_rows_are_the_official_ones():
    assert np.array_equal(sample_rows(SRC, PRE, OFFICIAL), OFFICIAL_ROWS)
    # By default rows reach the crop line; with the official crop (240 of 590 rows) those
    # are the official 18, and a taller TuSimple frame gets rows up to its own crop line.
    official_crop = PreprocessConfig(width=800, height=288, crop_top=240 / 590)
    assert np.array_equal(sample_rows(SRC, official_crop, PostprocessConfig()), OFFICIAL_ROWS)
    tusimple = sample_rows((720, 1280), PreprocessConfig(width=400, height=144, crop_top=0.35), PostprocessConfig())
    assert tusimple.max() == 719 and 252 <= tusimple.min() < 272


def test_vertical_lane_lands_at_the_right_source_pixels():
    prob = _maps()
    _stripe(prob, 2, 300)  # lane slot 1, network column 300
    lanes = lanes_from_probmaps(prob, np.array([0.1, 0.9, 0.2, 0.3]), SRC, PRE, OFFICIAL)
    assert len(lanes) == 1
    lane = lanes[0]
    assert lane.slot == 1 and lane.existence == pytest.approx(0.9)
    # column 300 of 800 -> 300 * 1640 / 800 = 615 source px; rows are the sampled ones
    assert np.allclose(lane.points[:, 0], 615.0)
    assert np.array_equal(lane.points[:, 1], OFFICIAL_ROWS)
    # confidence is the 9x9-smoothed probability: 1 inside the stripe, but the bottom row
    # (network row 287) has only 5 of its 9 window rows inside the map -> 5/9
    assert lane.confidence[0] == pytest.approx(5 / 9, rel=1e-5)
    assert np.allclose(lane.confidence[1:], 1.0)


def test_slanted_lane_follows_its_columns():
    prob = _maps()
    cols = 100 + np.arange(288)  # column grows by one per network row
    _stripe(prob, 1, cols)
    lane = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, OFFICIAL)[0]
    net_rows = np.clip(np.rint(OFFICIAL_ROWS * 288 / 590), 0, 287)
    # all but the bottom row, whose smoothing window is cut by the map's edge
    assert np.allclose(lane.points[1:, 0], (100 + net_rows[1:]) * 1640 / 800)


def test_low_existence_drops_the_lane():
    prob = _maps()
    _stripe(prob, 1, 300)
    assert lanes_from_probmaps(prob, np.array([0.49, 0.9, 0.9, 0.9]), SRC, PRE, OFFICIAL) == []


def test_lanes_with_fewer_than_two_points_are_dropped():
    prob = _maps()
    # Rows 283..287: the bottom sampled row (network row 287) sees 5/9 of it; the next one
    # (row rint(569 * 288 / 590) = 278, window 274..282) sees none.
    _stripe(prob, 1, 300, rows=slice(283, 288))
    assert lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, OFFICIAL) == []
    one = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, PostprocessConfig(min_points=1, num_rows=18))
    assert len(one) == 1 and len(one[0]) == 1


def test_crop_top_maps_rows_below_the_crop_line():
    pre = PreprocessConfig(width=800, height=288, crop_top=0.25)  # round(147.5) = 148 rows cut
    prob = _maps()
    _stripe(prob, 1, 300, rows=slice(144, 288))  # lower half of the network input
    lane = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, pre, PostprocessConfig(num_rows=None))[0]
    # Smoothed, the stripe passes 0.3 from network row 142 on (3/9 of the window inside).
    # Network row of source y: rint((y - 148) * 288 / 442) >= 142  <=>  y >= 365.2, so the
    # sampled rows 589, 569, ..., 369 hit: 12 points (without the crop it would be 15).
    assert len(lane) == 12 and lane.points[-1, 1] == 369 and lane.points[0, 1] == 589
    assert np.allclose(lane.points[:, 0], 615.0)
    assert sample_rows(SRC, pre, PostprocessConfig(num_rows=None)).min() >= 148


def test_explicit_rows_such_as_tusimple_h_samples():
    prob = _maps()
    _stripe(prob, 1, 300)
    cfg = PostprocessConfig(y_samples=(300, 400, 500))
    lane = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, cfg)[0]
    assert np.array_equal(lane.points[:, 1], [500, 400, 300])  # bottom first


def _car_edge_maps() -> tuple[np.ndarray, np.ndarray]:
    """A slanted lane (network column 200 + 0.5 * row) whose rows 230-259 jump 120 px right to a car's edge."""
    prob = _maps()
    cols = np.rint(200 + 0.5 * np.arange(288)).astype(int)
    cols[230:260] += 120
    _stripe(prob, 1, cols)
    return prob, cols


def _true_x(ys: np.ndarray) -> np.ndarray:
    """The slanted lane's source column at source rows ``ys`` (800 -> 1640 px, 288 -> 590 rows)."""
    return (200 + 0.5 * ys * 288 / 590) * 1640 / 800


def test_robust_fit_rejects_a_car_edge_and_follows_the_true_line():
    prob, _ = _car_edge_maps()
    official = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, OFFICIAL)[0]
    robust = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, PostprocessConfig(num_rows=18))[0]
    assert np.abs(official.points[:, 0] - _true_x(official.points[:, 1])).max() > 200  # the official kink
    assert np.array_equal(robust.points[:, 1], OFFICIAL_ROWS)  # same output rows
    assert np.abs(robust.points[:, 0] - _true_x(OFFICIAL_ROWS)).max() < 3.0  # within 1.5 network px
    assert np.all(np.diff(robust.points[:, 0]) < 0)  # smooth: monotonic, no kink
    # confidence is read on the curve: inside the stripe, except where the stripe left for the car
    # (rows 509 and 489 read network rows 248 and 239, wholly on the car's stretch)
    assert np.allclose(robust.confidence[4:6], 0.0) and robust.confidence[10] > 0.8


def test_robust_lane_ends_where_its_evidence_ends_unless_extended():
    prob = _maps()
    cols = np.rint(200 + 0.5 * np.arange(288)).astype(int)
    _stripe(prob, 1, cols, rows=slice(60, 200))  # painted from network row 60 to 199: the hood hides the rest
    exist = np.full(4, 0.9)
    lane = lanes_from_probmaps(prob, exist, SRC, PRE, PostprocessConfig())[0]
    # 9x9-smoothed, the stripe passes 0.3 on network rows 57-202: the sampled rows 129-409
    assert lane.points[-1, 1] == 129 and lane.points[0, 1] == 409
    extended = lanes_from_probmaps(prob, exist, SRC, PRE, PostprocessConfig(extend_to_bottom=True))[0]
    assert extended.points[0, 1] == 589 and np.array_equal(extended.points[len(extended) - len(lane) :], lane.points)
    assert np.abs(extended.points[:, 0] - _true_x(extended.points[:, 1])).max() < 3.0  # along the tangent
    assert extended.confidence[0] == 0.0  # no evidence down there


def test_extension_stops_at_the_image_side():
    prob = _maps()
    cols = np.rint(700 + 1.5 * (np.arange(288) - 100)).astype(int)
    _stripe(prob, 1, np.clip(cols, 4, 795), rows=slice(0, 130))  # leaves the right side below row 166
    lane = lanes_from_probmaps(prob, np.full(4, 0.9), SRC, PRE, PostprocessConfig(extend_to_bottom=True))[0]
    assert lane.points[:, 0].max() <= 1639 and lane.points[0, 1] < 589


def test_official_decoding_is_the_per_row_argmax_of_the_box_filtered_maps():
    # The paper's rule computed independently: a full 9x9 zero-padded box filter, then each
    # sampled row's argmax where it exceeds the threshold. The robust fit's changes must not
    # touch it: the columns are equal bit for bit.
    rng = np.random.default_rng(3)
    prob = rng.random((5, 288, 800)).astype(np.float32) * 0.2
    for slot in range(1, 5):
        _stripe(prob, slot, np.clip(np.rint(150 * slot + rng.normal(0, 40, 288)), 5, 794).astype(int))
    exist = np.full(4, 0.9)
    lanes = lanes_from_probmaps(prob, exist, SRC, PRE, OFFICIAL)
    box = np.stack([cv2.filter2D(m, -1, np.full((9, 9), 1 / 81, np.float32), borderType=0) for m in prob[1:]])
    rows = np.clip(np.rint(OFFICIAL_ROWS * 288 / 590), 0, 287).astype(int)
    for lane in lanes:
        best = box[lane.slot][rows]
        hit = best.max(axis=1) > 0.3
        assert np.array_equal(lane.points[:, 0], best[hit].argmax(axis=1) * (1640 / 800))
        assert np.array_equal(lane.points[:, 1], OFFICIAL_ROWS[hit])


def test_row_smoothing_equals_a_zero_padded_box_filter():
    rng = np.random.default_rng(0)
    maps = rng.random((2, 40, 60)).astype(np.float32)
    rows = np.array([0, 3, 20, 38, 39])
    full = np.stack(
        [cv2.filter2D(m, -1, np.full((9, 9), 1 / 81, np.float32), borderType=cv2.BORDER_CONSTANT) for m in maps]
    )
    assert np.allclose(smoothed_rows(maps, np.array([1, 0]), rows, 9), full[[1, 0]][:, rows], atol=1e-5)


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match="odd"):
        PostprocessConfig(smooth_kernel=8)
    with pytest.raises(ConfigError, match="fit must be one of robust, official, got 'spline'"):
        PostprocessConfig(fit="spline")
    with pytest.raises(ConfigError, match="fit_tolerance"):
        PostprocessConfig(fit_tolerance=0.0)
    with pytest.raises(ConfigError, match=r"\(5, 288, 800\) .* \(3,\)"):
        lanes_from_probmaps(_maps(), np.full(3, 0.9), SRC, PRE)


def test_default_smoothing_scales_with_the_network_width():
    from lane_sad_core.infer.postprocess import smoothing_kernel

    cfg = PostprocessConfig()
    assert [smoothing_kernel(cfg, w) for w in (800, 640, 400, 256, 80)] == [9, 7, 5, 3, 1]
    assert smoothing_kernel(PostprocessConfig(smooth_kernel=9), 256) == 9
    # A 2 px lane at 256 px peaking at 0.5: the scaled 3x3 box keeps 0.33, above the 0.3
    # threshold; the paper's 9x9 flattens it to 0.11 and loses the lane.
    pre = PreprocessConfig(width=256, height=96)
    prob = np.zeros((5, 96, 256), np.float32)
    prob[0] = 1.0
    prob[1, :, 100:102], prob[0, :, 100:102] = 0.5, 0.5
    exist = np.array([0.9, 0.0, 0.0, 0.0])
    assert len(lanes_from_probmaps(prob, exist, (590, 1640), pre)) == 1
    assert lanes_from_probmaps(prob, exist, (590, 1640), pre, PostprocessConfig(smooth_kernel=9)) == []
