"""Rows, lengths and slots of converted lanes (lane_sad_core.data.convert.prepare, .rows)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.convert.frames import SourceLane
from lane_sad_core.data.convert.prepare import NO_SLOT, LaneRules, prepare_lanes
from lane_sad_core.data.convert.rows import bottom_up, resample_rows
from lane_sad_core.data.formats import read_culane_lines, read_culane_list
from lane_sad_core.data.synth.writer import SynthSettings, generate, write_lists


def _line(x_bottom: float, x_top: float, y_bottom: float = 590.0, y_top: float = 300.0, n: int = 5) -> np.ndarray:
    ys = np.linspace(y_bottom, y_top, n)
    return np.stack([np.interp(ys, [y_top, y_bottom], [x_top, x_bottom]), ys], axis=1)


def _slots(lanes: list[np.ndarray], width: int = 1640, height: int = 590) -> list[int]:
    """Slot of each lane (in the given order), -1 when it got none."""
    placed, _ = prepare_lanes([SourceLane(p, f"lane {i}") for i, p in enumerate(lanes)], width, height, LaneRules())
    out = []
    for points in lanes:
        src = points[np.argsort(points[:, 1])]
        on_it = [p.slot for p in placed if np.isclose(p.points[0, 0], np.interp(p.points[0, 1], src[:, 1], src[:, 0]))]
        out.append(on_it[0] if on_it else -1)
    return out


def test_rows_are_culane_rows_from_the_bottom_and_clicked_vertices_are_interpolated() -> None:
    rows = resample_rows(np.array([[100.0, 590.0], [400.0, 290.0]]), 590, 10)
    assert rows[0].tolist() == [100.0, 590.0]
    assert rows[-1].tolist() == [400.0, 290.0]
    assert np.allclose(np.diff(rows[:, 1]), -10.0)
    assert np.allclose(rows[:, 0], 100.0 + (590.0 - rows[:, 1]))


def test_polylines_drawn_top_down_are_turned_and_a_turn_back_is_cut() -> None:
    points, cut = bottom_up(np.array([[5.0, 300.0], [3.0, 400.0], [1.0, 500.0]]))
    assert not cut and points[0].tolist() == [1.0, 500.0]
    points, cut = bottom_up(np.array([[1.0, 500.0], [3.0, 400.0], [5.0, 450.0]]))
    assert cut and points.tolist() == [[1.0, 500.0], [3.0, 400.0]]


def test_rule_fills_slots_outward_from_the_centre_and_reports_a_third_lane_per_side() -> None:
    lanes = [_line(-900, 600), _line(-50, 700), _line(450, 780), _line(1000, 830), _line(1500, 900)]
    sources = [SourceLane(p, f"lane {i + 1}") for i, p in enumerate(lanes)]
    placed, issues = prepare_lanes(sources, 1640, 590, LaneRules())
    assert [lane.slot for lane in placed] == [0, 1, 2, 3]
    assert [round(lane.points[0, 0]) for lane in placed] == [-50, 450, 1000, 1500]
    assert issues == ["lane 1: no free slot left of the centre (meets the bottom at x=-900; 4 slots hold 2 per side)"]


def test_short_and_one_point_lanes_are_reported_not_dropped_silently() -> None:
    lanes = [
        SourceLane(np.array([[800.0, 580.0]]), "dot"),
        SourceLane(np.array([[700.0, 590.0], [720.0, 578.0]]), "stub"),
        SourceLane(np.array([[3000.0, 590.0], [3100.0, 300.0]]), "outside"),
        SourceLane(_line(450, 780), "good"),
    ]
    placed, issues = prepare_lanes(lanes, 1640, 590, LaneRules())
    assert [lane.slot for lane in placed] == [1]
    assert issues[0] == "dot: fewer than 2 points (1)"
    assert issues[1].startswith("stub: too short (2 rows 10 px apart")
    assert issues[2].startswith("outside: too short (0 rows")


def test_slots_given_by_the_source_are_kept_and_conflicts_reported() -> None:
    lanes = [
        SourceLane(_line(450, 780), "a", slot=2),  # left of centre, but the source says slot 3
        SourceLane(_line(1000, 830), "b"),  # the rule wants slot 3 (index 2) too: taken
        SourceLane(_line(1500, 900), "c", slot=7),
        SourceLane(_line(-200, 700), "d", slot=NO_SLOT),
    ]
    placed, issues = prepare_lanes(lanes, 1640, 590, LaneRules())
    assert [lane.slot for lane in placed] == [2]
    assert issues == [
        "c: slot 8 is not one of 1..4",
        "d: the source places it outside the 4 slots",
        "b: slot 3 is already taken by a",
    ]


def test_rule_gives_culane_slots_on_real_four_lane_frames(real_data: Path) -> None:
    """CULane's .lines.txt list lanes left to right; with four lanes they are slots 1-4."""
    files = sorted((real_data / "culane").rglob("*.lines.txt"))
    four = [lanes for f in files if len(lanes := [lane.points for lane in read_culane_lines(f)]) == 4]
    assert len(four) >= 30
    for lanes in four:
        assert _slots(lanes) == [0, 1, 2, 3]


def test_rule_gives_ego_slots_on_real_ego_lane_frames(real_data: Path) -> None:
    """culane_ego labels only the ego pair (left, right): slots 2 and 3."""
    files = sorted((real_data / "culane_ego").rglob("*.lines.txt"))
    pairs = [lanes for f in files if len(lanes := [lane.points for lane in read_culane_lines(f)]) == 2]
    assert len(pairs) >= 90
    for lanes in pairs:
        assert _slots(lanes) == [1, 2]


def test_rule_matches_the_slots_the_synthetic_generator_drew(tmp_path: Path) -> None:
    """Each synthetic lane's true slot is the mask value under it; the rule must find it."""
    settings = SynthSettings(format="culane", num=30, seed=5, splits=(1.0, 0.0, 0.0))
    write_lists(tmp_path, settings, list(generate(tmp_path, settings)))
    checked = 0
    for entry in read_culane_list(tmp_path / "list" / "train_gt.txt"):
        lanes = [lane.points for lane in read_culane_lines(tmp_path / entry.image.replace(".jpg", ".lines.txt"))]
        mask = cv2.imread(str(tmp_path / entry.mask), cv2.IMREAD_GRAYSCALE)
        truth = []
        for points in lanes:
            x, y = np.rint(points[:, 0]).astype(int), np.rint(points[:, 1]).astype(int)
            inside = (x >= 0) & (x < mask.shape[1]) & (y >= 0) & (y < mask.shape[0])
            truth.append(int(np.bincount(mask[y[inside], x[inside]]).argmax()) - 1)
        assert _slots(lanes) == truth, entry.image
        checked += len(lanes)
    assert checked >= 60
