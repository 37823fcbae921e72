"""TuSimple JSON -> CULane -> the loader gives the same lanes (lane_sad_core.data.convert.tusimple)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bagutil import real_tusimple_root
from convertutil import convert_to, lanes_by_key

from lane_sad_core.data.datasets import TusimpleDataset
from lane_sad_core.errors import LabelError

TS512 = "tusimple_512x288/sergey-ryzhikov__TusimpleLabelData/tusimple_sample_512x288"


def _tusimple_lanes(root: Path, label: str) -> dict[str, list]:
    ds = TusimpleDataset(root, label, num_slots=4)
    return {ds.records[i].raw_file.rsplit(".", 1)[0]: ds.lanes(i) for i in range(len(ds))}


def test_official_1280x720_labels_round_trip_exactly(real_data: Path, tmp_path: Path) -> None:
    """At 720 px CULane's rows (720, 710, ...) contain TuSimple's h_samples: same points, same slots."""
    root, label = real_tusimple_root(real_data, tmp_path / "ts")
    report = convert_to(tmp_path / "out", "tusimple", root / label)
    assert len(report.written()) == 7
    converted, original = lanes_by_key(tmp_path / "out"), _tusimple_lanes(root, label)
    assert converted.keys() == original.keys()
    for key, lanes in original.items():
        assert [lane.slot for lane in converted[key]] == [lane.slot for lane in lanes], key
        for got, want in zip(converted[key], lanes, strict=True):
            assert np.array_equal(got.points[::-1], want.points), key


def test_rescaled_512x288_labels_round_trip_at_culane_rows(real_data: Path, tmp_path: Path) -> None:
    """At 288 px h_samples run in steps of 4: the converted points lie on the labelled polyline."""
    report = convert_to(tmp_path / "out", "tusimple", real_data / TS512 / "label_data.json")
    assert len(report.written()) == 7
    converted, original = lanes_by_key(tmp_path / "out"), _tusimple_lanes(real_data / TS512, "label_data.json")
    for key, lanes in original.items():
        assert [lane.slot for lane in converted[key]] == [lane.slot for lane in lanes], key
        for got, want in zip(converted[key], lanes, strict=True):
            assert np.all(got.points[:, 1] % 10 == 8)  # 288, 278, ...: CULane's grid from the bottom
            expected = np.interp(got.points[:, 1], want.points[:, 1], want.points[:, 0])
            assert np.allclose(got.points[:, 0], expected, atol=1e-3), key


def test_a_lane_without_any_point_is_reported(real_data: Path, tmp_path: Path) -> None:
    """One rescaled record carries a lane that is -2 on every row (the conversion says so)."""
    report = convert_to(tmp_path / "out", "tusimple", real_data / TS512 / "label_data.json")
    assert report.lines() == ["clips/0313-2/520/20.jpg: lane 4: fewer than 2 points (0)"]


def test_a_folder_of_label_files_and_a_missing_image(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    record = {"lanes": [[-2, 100, 110]], "h_samples": [700, 710, 720], "raw_file": "clips/a/20.jpg"}
    (tmp_path / "labels" / "x.json").write_text(json.dumps(record) + "\n")
    report = convert_to(tmp_path / "out", "tusimple", tmp_path / "labels")
    assert report.frames[0].skipped == f"image: missing {tmp_path / 'labels' / 'clips/a/20.jpg'}"
    with pytest.raises(LabelError, match="no \\*.json"):
        convert_to(tmp_path / "out2", "tusimple", tmp_path / "out")
