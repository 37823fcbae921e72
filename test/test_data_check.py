"""``lane-sad data check``: counts, label defects, contact sheet, exit codes (lane_sad_core.data.check)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bagutil import REAL_CULANE, REAL_TUSIMPLE, lane_sad_here
from convertutil import convert_to

from lane_sad_core.data.check import check_dataset
from lane_sad_core.data.formats import CulaneListEntry, write_culane_list
from lane_sad_core.data.raster import rasterize_lanes
from lane_sad_core.lanes import Lane

W, H = 400, 200


def _lane(x_bottom: float, x_top: float, slot: int = -1) -> Lane:
    ys = np.arange(H, 90, -10.0)
    return Lane(np.stack([np.interp(ys, [100, H], [x_top, x_bottom]), ys], 1), slot)


def _write(
    root: Path, name: str, lanes: list[Lane], exist: tuple[int, ...], mask_lanes: list[Lane] | None = None
) -> CulaneListEntry:
    (root / "d").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / "d" / f"{name}.jpg"), np.full((H, W, 3), 80, np.uint8))
    text = "".join(" ".join(f"{x:.1f} {y:.0f}" for x, y in lane.points) + "\n" for lane in lanes)
    (root / "d" / f"{name}.lines.txt").write_text(text)
    mask = rasterize_lanes(mask_lanes if mask_lanes is not None else lanes, (H, W), 6)
    (root / "m").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "m" / f"{name}.png"), mask)
    return CulaneListEntry(f"d/{name}.jpg", f"m/{name}.png", exist)


@pytest.fixture
def defective(tmp_path: Path) -> Path:
    """A small tree with one frame per defect, and one clean frame."""
    left, right = _lane(100, 180, 1), _lane(300, 220, 2)
    entries = [
        _write(tmp_path, "clean", [left, right], (0, 1, 1, 0)),
        _write(tmp_path, "empty", [], (0, 0, 0, 0)),
        _write(tmp_path, "cross", [_lane(100, 260, 1), _lane(300, 150, 2)], (0, 1, 1, 0)),
        _write(tmp_path, "unordered", [Lane(left.points[[0, 2, 1, 3]], 1), right], (0, 1, 1, 0)),
        _write(tmp_path, "outside", [_lane(-100, 180, 1), right], (0, 1, 1, 0)),
        _write(tmp_path, "flags", [left, right], (1, 1, 1, 0)),
        _write(tmp_path, "mask", [left, right], (0, 1, 1, 0), [_lane(150, 200, 1), right]),
        _write(
            tmp_path,
            "crowded",  # three lanes left of the centre, flags for three lanes: the rule drops one
            [_lane(-20, 100), _lane(60, 150), _lane(160, 190), right],
            (0, 1, 1, 1),
            [_lane(60, 150, 0), _lane(160, 190, 1), right],
        ),
        CulaneListEntry("d/gone.jpg", "m/gone.png", (0, 0, 0, 0)),
    ]
    write_culane_list(tmp_path / "list" / "all_gt.txt", entries)
    return tmp_path


def test_each_defect_is_found_in_its_frame_and_only_there(defective: Path) -> None:
    report = check_dataset(defective)
    found = {(d.frame.split("/")[1].split(".")[0], d.kind) for d in report.defects()}
    assert found == {
        ("empty", "empty frame"),
        ("cross", "lanes cross"),
        ("unordered", "unordered rows"),
        ("outside", "outside image"),
        ("flags", "flags disagree"),
        ("mask", "mask disagrees"),
        ("crowded", "flags disagree"),
        ("crowded", "no slot"),
        ("gone", "missing image"),
    }
    assert report.slot_counts() == [1, 7, 7, 0]


def test_cli_prints_defects_counts_and_a_contact_sheet_and_exits_1(defective: Path, capsys) -> None:
    assert lane_sad_here("data", "check", defective, "--sheet", defective / "sheet.png", "--sheet-frames", 6) == 1
    out = capsys.readouterr().out
    assert "d/cross.jpg: lanes cross: slot 2 lies right of slot 3 at y=" in out
    assert out.splitlines()[-2] == (
        "defects: empty frame 1, flags disagree 2, lanes cross 1, mask disagrees 1, missing image 1, no slot 1, "
        "outside image 1, unordered rows 1"
    )
    sheet = cv2.imread(str(defective / "sheet.png"))
    assert sheet.shape[1] == 4 * 320 and sheet.shape[0] == 28 + 2 * (160 + 18)  # legend, 2 rows of 320x160 tiles
    first = sheet[28 : 28 + 160, :320]
    assert (first[1, 100] == (40, 40, 230)).all()  # a frame with a defect comes first, framed in red


def test_converted_real_frames_are_clean_and_counted(real_data: Path, tmp_path: Path, capsys) -> None:
    convert_to(tmp_path / "ts", "lines", real_data / REAL_TUSIMPLE / "raws")
    assert lane_sad_here("data", "check", tmp_path / "ts", "--sheet", tmp_path / "ts.png") == 0
    out = capsys.readouterr().out
    assert "14 frames" in out and "lanes per slot (1 = leftmost): 1:12 2:14 3:14 4:12" in out
    assert "defects: none" in out and (tmp_path / "ts.png").stat().st_size > 100_000


def test_real_culane_without_lists_is_globbed_and_its_empty_frames_reported(real_data: Path, capsys) -> None:
    assert lane_sad_here("data", "check", real_data / REAL_CULANE) == 1
    out = capsys.readouterr().out
    assert out.count(": empty frame:") == 2 and "41 frames from the *.lines.txt files" in out


def test_categories_come_from_culane_test_split_lists(defective: Path) -> None:
    write_culane_list(defective / "list" / "test_split" / "test8_night.txt", [CulaneListEntry("d/clean.jpg")])
    assert check_dataset(defective).category_counts() == {"night": 1, "unknown": 8}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "not a folder"),
        (lambda root: (root / "list").mkdir(parents=True) or (root / "list" / "a.txt").write_text(""), "no frames"),
        (
            lambda root: (root / "list").mkdir(parents=True)
            or (root / "list" / "a_gt.txt").write_text("/a.jpg /m.png 1 x\n"),
            "must be 0, 1 or ?",
        ),
    ],
)
def test_unusable_input_exits_2_with_one_line(tmp_path: Path, capsys, setup, message: str) -> None:
    root = tmp_path / "root"
    setup(root)
    assert lane_sad_here("data", "check", root) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
