"""TuSimple metric: hand-worked images, the official rules' edge cases, and real labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lane_sad_core.data.formats import TusimpleRecord, read_tusimple, write_tusimple
from lane_sad_core.errors import LabelError
from lane_sad_core.metrics import score_tusimple, score_tusimple_files, tusimple_frame_score
from lane_sad_core.metrics.tusimple import lane_angle

TUSIMPLE_REAL = "tusimple/liuruijin17__LSTR/official_labels_matched"

ROWS = list(range(300, 400, 10))  # 10 h_samples
VERTICAL = [500.0] * 10  # x constant: slope 0, threshold exactly 20 px


def plus(lane: list[float], dx: float) -> list[float]:
    return [x + dx if x >= 0 else x for x in lane]


def test_vertical_lane_within_and_beyond_20_px() -> None:
    # 19 px off on every row: 19 < 20, accuracy 1, matched.
    assert tusimple_frame_score([plus(VERTICAL, 19)], [VERTICAL], ROWS) == (1.0, 0.0, 0.0)
    # 20 px off: |20| < 20 fails on every row -> accuracy 0, one FN of one GT lane, and
    # the prediction is unmatched: FP 1 of 1.
    assert tusimple_frame_score([plus(VERTICAL, 20)], [VERTICAL], ROWS) == (0.0, 1.0, 1.0)


def test_steep_lane_gets_a_wider_threshold() -> None:
    # x = 500 + (y - 300): slope dx/dy = 1, theta = 45 deg, threshold 20 / cos 45 = 28.28.
    diagonal = [500.0 + (y - 300) for y in ROWS]
    assert lane_angle(np.array(diagonal), np.array(ROWS, float)) == pytest.approx(np.pi / 4)
    # 25 px off would miss with a plain 20 px threshold; here it is inside 28.28.
    assert tusimple_frame_score([plus(diagonal, 25)], [diagonal], ROWS) == (1.0, 0.0, 0.0)
    assert tusimple_frame_score([plus(diagonal, 29)], [diagonal], ROWS) == (0.0, 1.0, 1.0)


def test_absent_points_count_as_minus_100() -> None:
    gt = [*VERTICAL[:8], -2, -2]  # lane absent on the last two rows
    # Absent where the GT is absent: both -100, distance 0 -> correct. Accuracy 10/10.
    assert tusimple_frame_score([gt], [gt], ROWS)[0] == 1.0
    # Present where the GT is absent: |500 - (-100)| = 600 -> wrong on 2 rows: 8/10 = 0.8
    # < 0.85, a miss although every present GT point is hit.
    assert tusimple_frame_score([VERTICAL], [gt], ROWS) == (0.8, 1.0, 1.0)


def test_missing_lane() -> None:
    far = plus(VERTICAL, 300)
    # GT lanes at x = 500 and 800, one prediction on the first: accuracies 1 and 0 (the
    # prediction is 300 px from the second) -> accuracy 0.5, FN 1/2, FP 0/1.
    assert tusimple_frame_score([VERTICAL], [VERTICAL, far], ROWS) == (0.5, 0.0, 0.5)


def test_extra_lane() -> None:
    far = plus(VERTICAL, 300)
    # Two GT lanes found, a third prediction unmatched: FP = (3 - 2) / 3.
    acc, fp, fn = tusimple_frame_score([VERTICAL, far, plus(VERTICAL, 600)], [VERTICAL, far], ROWS)
    assert (acc, fn) == (1.0, 0.0)
    assert fp == pytest.approx(1 / 3)


def test_more_than_gt_plus_two_predictions_scores_zero() -> None:
    # 1 GT lane: 3 predictions are allowed (FP 2/3), 4 are not: (0, 0, 1) outright.
    three = [VERTICAL, plus(VERTICAL, 300), plus(VERTICAL, 600)]
    acc, fp, fn = tusimple_frame_score(three, [VERTICAL], ROWS)
    assert (acc, fn) == (1.0, 0.0) and fp == pytest.approx(2 / 3)
    four = [*three, plus(VERTICAL, 900)]
    assert tusimple_frame_score(four, [VERTICAL], ROWS) == (0.0, 0.0, 1.0)


def test_more_than_four_gt_lanes_forgive_one_miss() -> None:
    gt = [plus(VERTICAL, 200 * k) for k in range(5)]
    # Four of five found: accuracies [1, 1, 1, 1, 0]; the worst is dropped (4 / 4) and the
    # one FN forgiven; FP (4 - 4) / 4 = 0.
    assert tusimple_frame_score(gt[:4], gt, ROWS) == (1.0, 0.0, 0.0)
    # Three of five: accuracies [1, 1, 1, 0, 0] -> (3 - 0) / 4 = 0.75; FN (2 - 1) / 4.
    assert tusimple_frame_score(gt[:3], gt, ROWS) == (0.75, 0.0, 0.25)


def test_one_prediction_can_match_two_gt_lanes() -> None:
    # GT at 500 and 510, prediction at 505: within 20 px of both, so both count as matched
    # and FP = 1 - 2 = -1 (no one-to-one matching in the official code).
    assert tusimple_frame_score([plus(VERTICAL, 5)], [VERTICAL, plus(VERTICAL, 10)], ROWS) == (1.0, -1.0, 0.0)


def test_slow_prediction_and_empty_gt() -> None:
    assert tusimple_frame_score([VERTICAL], [VERTICAL], ROWS, run_time=201) == (0.0, 0.0, 1.0)
    assert tusimple_frame_score([VERTICAL], [VERTICAL], ROWS, run_time=200)[0] == 1.0
    # No GT lane: accuracy 0 / max(0, 1) = 0, the prediction is a FP, nothing to miss.
    assert tusimple_frame_score([VERTICAL], [], ROWS) == (0.0, 1.0, 0.0)
    assert tusimple_frame_score([], [], ROWS) == (0.0, 0.0, 0.0)


def _record(name: str, lanes: list[list[float]], run_time: float | None = None) -> TusimpleRecord:
    return TusimpleRecord(name, ROWS, lanes, run_time)


def test_submission_averages_over_gt_images() -> None:
    gt = [_record("a.jpg", [VERTICAL]), _record("b.jpg", [VERTICAL, plus(VERTICAL, 300)])]
    pred = [_record("b.jpg", [VERTICAL], 10.0), _record("a.jpg", [VERTICAL])]
    score = score_tusimple(pred, gt)
    # a: (1, 0, 0); b: (0.5, 0, 0.5) -> means (0.75, 0, 0.25), frames in prediction order.
    assert (score.accuracy, score.fp, score.fn) == (0.75, 0.0, 0.25)
    assert [f.raw_file for f in score.frames] == ["b.jpg", "a.jpg"]


def test_submission_errors() -> None:
    gt = [_record("a.jpg", [VERTICAL])]
    with pytest.raises(LabelError, match=r"1 predictions for 2 GT images"):
        score_tusimple(gt, [*gt, _record("b.jpg", [])])
    with pytest.raises(LabelError, match=r"'c\.jpg', which has no GT"):
        score_tusimple([_record("c.jpg", [])], gt)
    short = TusimpleRecord("a.jpg", ROWS[:5], [VERTICAL[:5]])
    with pytest.raises(LabelError, match=r"a\.jpg: predicted lane 0 has 5 x values for 10"):
        score_tusimple([short], gt)


# --- real TuSimple labels --------------------------------------------------------------


def _real_gt(real_data: Path) -> list[TusimpleRecord]:
    folder = real_data / TUSIMPLE_REAL
    return [*read_tusimple(folder / "test_label.subset.json"), *read_tusimple(folder / "label_data_0313.subset.json")]


def test_real_labels_against_themselves(real_data: Path, tmp_path: Path) -> None:
    gt = _real_gt(real_data)
    write_tusimple(tmp_path / "gt.json", gt)
    score = score_tusimple_files(tmp_path / "gt.json", tmp_path / "gt.json")
    assert (score.accuracy, score.fp, score.fn) == (1.0, 0.0, 0.0)
    assert len(score.frames) == 14


def test_real_labels_shifted_15_px_still_perfect(real_data: Path) -> None:
    # 15 < 20 <= 20 / cos(theta) on every row of every lane.
    gt = _real_gt(real_data)
    pred = [TusimpleRecord(r.raw_file, r.h_samples, [plus(lane, 15) for lane in r.lanes]) for r in gt]
    score = score_tusimple(pred, gt)
    assert (score.accuracy, score.fp, score.fn) == (1.0, 0.0, 0.0)


def test_real_labels_with_duplicated_lanes(real_data: Path) -> None:
    gt = _real_gt(real_data)
    # Two duplicates per image: all GT lanes found, FP = 2 / (n + 2) per image.
    two = [TusimpleRecord(r.raw_file, r.h_samples, r.lanes + r.lanes[:2]) for r in gt]
    score = score_tusimple(two, gt)
    expected_fp = np.mean([2 / (len(r.lanes) + 2) for r in gt])
    assert (score.accuracy, score.fn) == (1.0, 0.0)
    assert score.fp == pytest.approx(expected_fp)
    # Three duplicates break the GT + 2 rule: every image scores (0, 0, 1).
    three = [TusimpleRecord(r.raw_file, r.h_samples, r.lanes + r.lanes[:3]) for r in gt]
    score = score_tusimple(three, gt)
    assert (score.accuracy, score.fp, score.fn) == (0.0, 0.0, 1.0)


def test_real_labels_with_all_points_removed(real_data: Path) -> None:
    # Predictions with every value absent (-2) agree with a GT lane only on its absent
    # rows: each GT lane scores (its absent rows) / (all rows), computed here from the
    # labels alone (no image here has more than 4 lanes).
    gt = _real_gt(real_data)
    assert max(len(r.lanes) for r in gt) <= 4
    pred = [TusimpleRecord(r.raw_file, r.h_samples, [[-2] * len(r.h_samples)] * len(r.lanes)) for r in gt]
    score = score_tusimple(pred, gt)
    accs, fns, fps, found = [], [], [], 0
    for r in gt:
        per_lane = [sum(x < 0 for x in lane) / len(lane) for lane in r.lanes]
        missed = sum(a < 0.85 for a in per_lane)
        found += len(r.lanes) - missed
        accs.append(sum(per_lane) / len(r.lanes))
        fns.append(missed / len(r.lanes))
        fps.append(missed / len(r.lanes))  # n predictions - (n - missed) matched
    assert score.accuracy == pytest.approx(np.mean(accs))
    assert score.fn == pytest.approx(np.mean(fns))
    assert score.fp == pytest.approx(np.mean(fps))
    # Official labels hold a lane with no point at all (clips/0313-1/51660, lane 3): an
    # empty prediction matches it on every row. It is the only lane "found".
    assert found == 1


def test_files_missing_and_malformed(tmp_path: Path) -> None:
    good = tmp_path / "gt.json"
    good.write_text(json.dumps({"lanes": [VERTICAL], "h_samples": ROWS, "raw_file": "a"}) + "\n")
    with pytest.raises(LabelError, match=r"nope\.json: file not found"):
        score_tusimple_files(tmp_path / "nope.json", good)
    bad = tmp_path / "pred.json"
    bad.write_text('{"lanes": [[1, 2]], "raw_file": "a"}\n')  # no h_samples: the GT's rows, as lane.py
    with pytest.raises(LabelError, match=rf"a: predicted lane 0 has 2 x values for {len(ROWS)} h_samples"):
        score_tusimple_files(bad, good)
    bad.write_text(json.dumps({"lanes": [VERTICAL], "raw_file": "a", "run_time": 5}) + "\n")
    assert score_tusimple_files(bad, good).accuracy == 1.0
