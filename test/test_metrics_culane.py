"""CULane metric: hand-worked frames, the official tool's quirks, and real CULane labels."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane
from lane_sad_core.metrics import (
    CulaneCounts,
    culane_frame_counts,
    iou_matrix,
    read_lane_file,
    score_culane,
)
from lane_sad_core.metrics.culane import category_name, label_stem, read_list_file
from lane_sad_core.metrics.matching import official_match
from lane_sad_core.metrics.raster import draw_lane, official_points, round_points
from lane_sad_core.metrics.spline import cube, spline_interp_times

CULANE_REAL = "culane/sgadgil6__Lane-Detection-CS4476"

# A vertical 2-point lane, 400 px long, well inside the 1640 x 590 canvas. Drawn 30 px wide
# it covers columns 785..815 (31 px, the quadrilateral's edges are inclusive) over rows
# 150..550 (401 rows), plus a half-disc of radius 15 beyond each end.
VERTICAL = np.array([[800.0, 550.0], [800.0, 150.0]])


def shifted(points: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    return points + np.array([dx, dy])


def write_lines(path: Path, lanes: list[np.ndarray], trailer: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [" ".join(f"{x:.3f} {y:.3f}" for x, y in lane) for lane in lanes]
    path.write_text("".join(r + "\n" for r in rows) + trailer)


# --- one frame, worked by hand ------------------------------------------------------------


def test_lane_shifted_inside_threshold_is_a_true_positive() -> None:
    # Shift 10 px sideways. Straight parts: 401 rows x 21 shared columns = 8421 px of
    # intersection. Caps: two discs r = 15 whose centres are 10 px apart overlap by
    # 2r^2 acos(d/2r) - (d/2) sqrt(4r^2 - d^2) = 412.5 px, half of it beyond each end, so
    # ~412 px more. Each lane is 12431 + 678 px (straight part + its two half-discs), so
    # IoU ~ 8833 / (2 * 13109 - 8833) = 0.508 > 0.5: one TP.
    iou = iou_matrix([VERTICAL], [shifted(VERTICAL, 10)])[0, 0]
    assert iou == pytest.approx(0.508, abs=0.002)
    assert culane_frame_counts([shifted(VERTICAL, 10)], [VERTICAL]) == (1, 0, 0)


def test_lane_shifted_outside_threshold_is_a_miss_and_a_false_positive() -> None:
    # Shift 11 px: 401 x 20 = 8020 px straight, lens 384 px -> IoU ~ 8404 / 17814 = 0.472.
    iou = iou_matrix([VERTICAL], [shifted(VERTICAL, 11)])[0, 0]
    assert iou == pytest.approx(0.472, abs=0.002)
    assert culane_frame_counts([shifted(VERTICAL, 11)], [VERTICAL]) == (0, 1, 1)


def test_lanes_31_px_apart_do_not_touch() -> None:
    # Columns 785..815 and 816..846 are disjoint; so are the caps (centres 31 px > 2 * 15).
    assert iou_matrix([VERTICAL], [shifted(VERTICAL, 31)])[0, 0] == 0.0


def test_missing_lane_is_a_false_negative() -> None:
    gt = [VERTICAL, shifted(VERTICAL, 400)]
    assert culane_frame_counts([VERTICAL], gt) == (1, 0, 1)


def test_extra_lane_is_a_false_positive() -> None:
    pred = [shifted(VERTICAL, -400), VERTICAL]
    assert culane_frame_counts(pred, [VERTICAL]) == (1, 1, 0)


def test_empty_sides() -> None:
    # No annotations: every detection is FP; no detections: every annotation is FN.
    assert culane_frame_counts([VERTICAL, VERTICAL], []) == (0, 2, 0)
    assert culane_frame_counts([], [VERTICAL] * 3) == (0, 0, 3)


def test_two_point_lane_is_drawn_straight() -> None:
    # Three collinear, evenly spaced points: the natural spline has zero second derivatives,
    # so it is the straight segment a 2-point lane is drawn as: identical masks, IoU 1.
    collinear = np.array([[800.0, 550.0], [800.0, 350.0], [800.0, 150.0]])
    assert iou_matrix([collinear], [VERTICAL])[0, 0] == 1.0
    # A bent 3-point lane passes through x = 900 at y = 350, 100 px from the straight one:
    # only the ends overlap, far below IoU 0.5.
    bent = np.array([[800.0, 550.0], [900.0, 350.0], [800.0, 150.0]])
    assert iou_matrix([bent], [VERTICAL])[0, 0] < 0.2
    assert culane_frame_counts([VERTICAL], [bent]) == (0, 1, 1)


def test_lanes_with_fewer_than_two_points_count_but_never_match() -> None:
    # The tool keeps such lanes (similarity 0): a 1-point annotation is a FN, an empty
    # detection a FP.
    one_point = np.array([[800.0, 300.0]])
    empty = np.zeros((0, 2))
    assert culane_frame_counts([VERTICAL, empty], [VERTICAL, one_point]) == (1, 1, 1)


def test_lanes_off_the_canvas_have_nan_iou_and_never_match() -> None:
    # Both lanes drawn entirely above the canvas: 0 / 0 in the tool.
    above = np.array([[800.0, -100.0], [810.0, -200.0]])
    assert math.isnan(iou_matrix([above], [above])[0, 0])
    assert culane_frame_counts([above], [above]) == (0, 1, 1)


def test_accepts_lane_objects() -> None:
    assert culane_frame_counts([Lane(VERTICAL)], [Lane(shifted(VERTICAL, 3))]) == (1, 0, 0)


# --- the pieces: spline, drawing, matching ---------------------------------------------------


def test_cube_is_correctly_rounded() -> None:
    from fractions import Fraction

    t = np.random.default_rng(0).uniform(0, 50, 2000)
    expected = np.array([float(Fraction(v) ** 3) for v in t.tolist()])
    assert np.array_equal(cube(t), expected)


def test_spline_shape_ends_and_float32() -> None:
    pts = np.array([[363.0, 590.0], [380.01, 580.0], [398.561, 570.0], [417.995, 560.0]])
    dense = spline_interp_times(pts)
    assert dense.dtype == np.float32
    assert dense.shape == (3 * 50 + 1, 2)
    # Each interval starts at its knot (t = 0) and the lane's last point closes the list.
    assert np.array_equal(dense[::50], pts.astype(np.float32))
    with pytest.raises(ValueError, match=">= 3 points"):
        spline_interp_times(pts[:2])


def test_round_points_is_cvround() -> None:
    pts = np.array([[0.5, 1.5], [2.5, -0.5], [np.nan, 3e10]], dtype=np.float32)
    int_min = np.iinfo(np.int32).min
    assert round_points(pts).tolist() == [[0, 2], [2, 0], [int_min, int_min]]


def _draw_like_the_tool(points: np.ndarray) -> np.ndarray:
    """The tool's loop: one cv::line per pair of interpolated points on a full canvas."""
    canvas = np.zeros((590, 1640), np.uint8)
    pixels = round_points(official_points(points))
    for p, q in itertools.pairwise(pixels):
        cv2.line(canvas, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), 1, 30)
    return canvas


@pytest.mark.parametrize("seed", range(6))
def test_cropped_polyline_equals_the_tools_segment_by_segment_drawing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    ys = np.sort(rng.uniform(-60, 650, n))[::-1]  # may leave the canvas at top and bottom
    xs = rng.uniform(-80, 1720) + np.cumsum(rng.normal(0, 25, n))  # and at the sides
    points = np.stack([xs, ys], axis=1)
    full = _draw_like_the_tool(points)
    mask = draw_lane(points)
    placed = np.zeros_like(full)
    h, w = mask.mask.shape
    placed[mask.y0 : mask.y0 + h, mask.x0 : mask.x0 + w] = mask.mask
    assert np.array_equal(placed, full)
    assert mask.area == int(full.sum())


def test_matching_keeps_the_tools_tolerance() -> None:
    # One detection, three annotations with IoU 0, 0.5 and 0.505 (transposed: the
    # detection is the left vertex). Its label starts at 0.505; annotation 1 is "tight"
    # because |0.505 - 0.5| < 0.01 and is visited first, so the tool pairs the detection
    # with annotation 1 -- whose IoU 0.5 is not > 0.5. An exact assignment would take
    # annotation 2 and count a TP; the tool counts none.
    assert official_match(np.array([[0.0], [0.5], [0.505]])) == [-1, 0, -1]


def test_matching_is_one_to_one() -> None:
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    # Row maxima label the left side; the optimum 0.8 + 0.85 beats 0.9 + 0.1.
    assert official_match(sim) == [1, 0]


# --- files, lists, categories -----------------------------------------------------------


def test_read_lane_file_keeps_blank_lines_as_lanes(tmp_path: Path) -> None:
    path = tmp_path / "a.lines.txt"
    path.write_text("1 2 3 4 \n\n5 6\n")
    lanes = read_lane_file(path)
    assert [len(lane) for lane in lanes] == [2, 0, 1]
    assert lanes[0].dtype == np.float32
    assert read_lane_file(tmp_path / "missing.lines.txt") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2 x 4\n", "not a number"),
        ("1 2 3\n", "odd number"),
        ("1 2 nan 4\n", "finite"),
    ],
)
def test_read_lane_file_rejects_malformed_lines(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.lines.txt"
    path.write_text("1 2 3 4\n" + text)
    with pytest.raises(LabelError, match=rf"bad\.lines\.txt:2: .*{message}"):
        read_lane_file(path)


def test_list_entries_and_category_names(tmp_path: Path) -> None:
    assert label_stem("/driver_37_30frame/05181432_0203.MP4/00000.jpg") == ("driver_37_30frame/05181432_0203.MP4/00000")
    # train_gt.txt style lines carry more fields; the first is the image.
    assert label_stem("/a/b.jpg /laneseg/b.png 1 1 0 0") == "a/b"
    lst = tmp_path / "l.txt"
    lst.write_text("/a/1.jpg\n\n  /a/2.jpg  \n")
    assert read_list_file(lst) == ["a/1", "a/2"]
    assert category_name(Path("test2_hlight.txt")) == "hlight"
    assert category_name(Path("test7_cross.txt")) == "cross"


def _tree(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Three frames: 'a' perfect (2 lanes), 'b' one of 2 lanes missed, 'c' a crossroad
    frame (no annotated lane) with one detection."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    two = [VERTICAL, shifted(VERTICAL, 400)]
    write_lines(gt / "d/a.lines.txt", two)
    write_lines(gt / "d/b.lines.txt", two)
    write_lines(gt / "d/c.lines.txt", [])
    write_lines(pred / "d/a.lines.txt", two)
    write_lines(pred / "d/b.lines.txt", two[:1])
    write_lines(pred / "d/c.lines.txt", [VERTICAL])
    lst = tmp_path / "test.txt"
    lst.write_text("/d/a.jpg\n/d/b.jpg\n/d/c.jpg\n")
    split = tmp_path / "test_split"
    split.mkdir()
    (split / "test0_normal.txt").write_text("/d/a.jpg\n/d/b.jpg\n")
    (split / "test1_crowd.txt").write_text("/d/b.jpg\n")
    (split / "test7_cross.txt").write_text("/d/c.jpg\n")
    return gt, pred, lst, split


def test_totals_and_categories(tmp_path: Path) -> None:
    gt, pred, lst, split = _tree(tmp_path)
    report = score_culane(pred, gt, lst, split)
    # total: a (2, 0, 0) + b (1, 0, 1) + c (0, 1, 0) = TP 3, FP 1, FN 1 -> P = R = F1 = 0.75
    assert (report.total.tp, report.total.fp, report.total.fn) == (3, 1, 1)
    assert report.total.f1 == pytest.approx(0.75)
    assert list(report.categories) == ["normal", "crowd", "cross"]
    normal = report.categories["normal"]
    # normal: a + b = (3, 0, 1): P = 1, R = 0.75, F1 = 1.5 / 1.75
    assert (normal.tp, normal.fp, normal.fn, normal.frames) == (3, 0, 1, 2)
    assert normal.f1 == pytest.approx(1.5 / 1.75)
    crowd = report.categories["crowd"]
    assert (crowd.precision, crowd.recall) == (1.0, 0.5)
    cross = report.categories["cross"]
    # crossroad reports FP only
    assert cross.fp == 1 and cross.fp_only
    assert (cross.precision, cross.recall, cross.f1) == (None, None, None)


def test_same_numbers_with_two_workers_and_without_a_list(tmp_path: Path) -> None:
    gt, pred, lst, _ = _tree(tmp_path)
    listed = score_culane(pred, gt, lst)
    assert score_culane(pred, gt, lst, workers=2).total == listed.total
    assert score_culane(pred, gt).total == listed.total  # every label under gt


def test_predictions_inside_the_gt_root_are_not_labels(tmp_path: Path) -> None:
    gt, _, _, _ = _tree(tmp_path)
    inner = gt / "predictions"
    write_lines(inner / "d/a.lines.txt", [VERTICAL])
    report = score_culane(inner, gt)
    assert report.total.frames == 3


def test_missing_prediction_file_means_no_lanes(tmp_path: Path) -> None:
    gt, pred, lst, _ = _tree(tmp_path)
    (pred / "d/a.lines.txt").unlink()
    report = score_culane(pred, gt, lst)
    assert (report.total.tp, report.total.fp, report.total.fn) == (1, 1, 3)


def test_missing_annotation_is_an_error(tmp_path: Path) -> None:
    gt, pred, lst, _ = _tree(tmp_path)
    (gt / "d/b.lines.txt").unlink()
    with pytest.raises(LabelError, match=r"b\.lines\.txt: annotation file not found"):
        score_culane(pred, gt, lst)


def test_blank_prediction_line_is_a_false_positive(tmp_path: Path) -> None:
    gt, pred, lst, _ = _tree(tmp_path)
    write_lines(pred / "d/a.lines.txt", [VERTICAL, shifted(VERTICAL, 400)], trailer="\n")
    report = score_culane(pred, gt, lst)
    assert report.total.fp == 2  # the blank line in a, the extra detection in c


def test_counts_ratios_when_undefined() -> None:
    assert CulaneCounts(0, 0, 5).precision is None
    assert CulaneCounts(0, 3, 0).recall is None
    assert CulaneCounts(0, 3, 5).f1 == 0.0


# --- real CULane labels --------------------------------------------------------------------


def _perpendicular_shift(lane: np.ndarray, distance: float) -> np.ndarray:
    direction = lane[-1] - lane[0]
    normal = np.array([-direction[1], direction[0]]) / np.linalg.norm(direction)
    return lane + distance * normal


def _real_tree(real_data: Path, tmp_path: Path, distance: float) -> tuple[Path, Path, int]:
    root = real_data / CULANE_REAL
    pred = tmp_path / "pred"
    lanes = 0
    for label in sorted(root.rglob("*.lines.txt")):
        gt_lanes = read_lane_file(label)
        lanes += len(gt_lanes)
        moved = [_perpendicular_shift(lane.astype(np.float64), distance) for lane in gt_lanes]
        write_lines(pred / label.relative_to(root), moved)
    return root, pred, lanes


def test_real_labels_against_themselves(real_data: Path) -> None:
    root = real_data / CULANE_REAL
    report = score_culane(root, root)
    # 38 frames with 4 lanes, 1 with 2, 2 empty (PROVENANCE.md): 154 lanes, all TP.
    assert (report.total.tp, report.total.fp, report.total.fn) == (154, 0, 0)
    assert report.total.frames == 41


@pytest.mark.parametrize(("distance", "matched"), [(4.0, True), (24.0, False)])
def test_real_labels_shifted_across_the_lane(real_data: Path, tmp_path: Path, distance: float, matched: bool) -> None:
    # Real lanes here are nearly straight. Moved perpendicular to themselves by d px, the
    # 31 px wide masks keep about (31 - d) / (31 + d) IoU: 0.77 for d = 4 (all TP), 0.13 for
    # d = 24 (every lane a FN and its copy a FP; neighbours are hundreds of px away).
    root, pred, lanes = _real_tree(real_data, tmp_path, distance)
    report = score_culane(pred, root)
    expected = (lanes, 0, 0) if matched else (0, lanes, lanes)
    assert (report.total.tp, report.total.fp, report.total.fn) == expected
