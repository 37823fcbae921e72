"""CULane and TuSimple label IO: round trips, real files, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lane_sad_core.data.formats import (
    TusimpleRecord,
    lanes_to_tusimple_row,
    read_culane_lines,
    read_tusimple,
    write_culane_lines,
    write_tusimple,
)
from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane


def test_culane_round_trip(tmp_path: Path) -> None:
    lanes = [Lane([[100.5, 590], [120.25, 580], [140.0, 570]]), Lane([[900, 590], [880, 400]])]
    write_culane_lines(tmp_path / "a" / "x.lines.txt", lanes)
    back = read_culane_lines(tmp_path / "a" / "x.lines.txt")
    assert [lane.slot for lane in back] == [0, 1]
    np.testing.assert_allclose(back[0].points, lanes[0].points)
    np.testing.assert_allclose(back[1].points, lanes[1].points)


def test_culane_empty_file_means_no_lanes(tmp_path: Path) -> None:
    (tmp_path / "e.lines.txt").write_text("")
    assert read_culane_lines(tmp_path / "e.lines.txt") == []


@pytest.mark.parametrize(("text", "why"), [("1 2 3\n", "odd number"), ("1 2\n3 x\n", "not a number")])
def test_culane_malformed_names_file_and_line(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.lines.txt"
    path.write_text(text)
    with pytest.raises(LabelError, match=rf"bad\.lines\.txt:{text.count(chr(10))}: {why}"):
        read_culane_lines(path)


def test_real_culane_labels_read(real_data: Path) -> None:
    files = sorted(real_data.glob("culane/**/*.lines.txt"))
    assert len(files) >= 40
    counts = [len(read_culane_lines(f)) for f in files]
    assert max(counts) == 4 and min(counts) == 0
    lane = read_culane_lines(files[0])[0]
    assert lane.points[0, 1] == 590  # CULane lanes start at the bottom row


def test_tusimple_round_trip_and_sampling(tmp_path: Path) -> None:
    h = list(range(160, 720, 10))
    lane = Lane([[600, 710], [650, 400]])
    rows = lanes_to_tusimple_row([lane], h)
    assert rows[0][h.index(710)] == 600 and rows[0][h.index(400)] == 650
    assert rows[0][h.index(160)] == -2  # above the lane's top: absent
    rec = TusimpleRecord("clips/a/1/20.jpg", h, rows)
    write_tusimple(tmp_path / "l.json", [rec, rec])
    back = read_tusimple(tmp_path / "l.json")
    assert len(back) == 2 and back[0].lanes == rows
    pts = back[0].to_lanes()[0].points
    assert pts[:, 1].min() == 400 and pts[:, 1].max() == 710


def test_tusimple_errors_name_file_and_line(tmp_path: Path) -> None:
    good = '{"lanes": [[1, 2]], "h_samples": [700, 710], "raw_file": "a.jpg"}'
    path = tmp_path / "bad.json"
    path.write_text(good + "\n" + '{"lanes": [[1]], "h_samples": [700, 710], "raw_file": "a.jpg"}\n')
    with pytest.raises(LabelError, match=r"bad\.json:2: lane 0 has 1 x values for 2 h_samples"):
        read_tusimple(path)
    path.write_text(good + "\n{not json\n")
    with pytest.raises(LabelError, match=r"bad\.json:2: invalid JSON"):
        read_tusimple(path)
    path.write_text('{"lanes": []}\n')
    with pytest.raises(LabelError, match=r"bad\.json:1: missing key 'h_samples'"):
        read_tusimple(path)


def test_real_tusimple_labels_read(real_data: Path) -> None:
    label = real_data / "tusimple/liuruijin17__LSTR/official_labels_matched/test_label.subset.json"
    recs = read_tusimple(label)
    assert len(recs) == 7
    assert all(r.h_samples[0] == 160 and r.h_samples[-1] == 710 for r in recs)
    lanes = recs[0].to_lanes()
    assert all(np.all(lane.points[:, 0] >= 0) for lane in lanes)
