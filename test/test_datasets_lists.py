"""CULane list files (formats.read_culane_list / write_culane_list)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lane_sad_core.data.formats import CulaneListEntry, read_culane_list, write_culane_list
from lane_sad_core.errors import LabelError


def test_round_trip_keeps_paths_masks_and_flags(tmp_path: Path) -> None:
    entries = [
        CulaneListEntry("driver_1/a.MP4/00000.jpg", "laneseg_label_w16/driver_1/a.MP4/00000.png", (0, 1, 1, 0)),
        CulaneListEntry("driver_1/a.MP4/00030.jpg", "laneseg_label_w16/driver_1/a.MP4/00030.png", (1, 1, 1, 1)),
    ]
    path = tmp_path / "list" / "train_gt.txt"
    write_culane_list(path, entries)
    assert path.read_text().splitlines()[0] == (
        "/driver_1/a.MP4/00000.jpg /laneseg_label_w16/driver_1/a.MP4/00000.png 0 1 1 0"
    )
    assert read_culane_list(path) == entries


def test_image_only_lines_have_no_mask_or_flags(tmp_path: Path) -> None:
    path = tmp_path / "test.txt"
    path.write_text("/driver_37/b.MP4/00000.jpg\n\ndriver_37/b.MP4/00030.jpg\n")
    entries = read_culane_list(path)
    assert [e.image for e in entries] == ["driver_37/b.MP4/00000.jpg", "driver_37/b.MP4/00030.jpg"]
    assert all(e.mask is None and e.exist is None for e in entries)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/a.jpg /a.png 1 1 2 1\n", r"train_gt\.txt:1: existence flags must be 0, 1 or \? \(unknown\)"),
        (
            "/a.jpg /a.png 1 1 1 1\n/b.jpg /b.png 1 1\n",
            r"train_gt\.txt: line 1 has 6 fields, line 2 4; all lines need the same",
        ),
        (  # the odd line is the first: it is the one named, not the good line after it
            "/a.jpg /a.png 1 1 1\n/b.jpg /b.png 1 1 1 1\n/c.jpg /c.png 0 1 1 1\n",
            r"train_gt\.txt:1: 5 fields \(3 existence flags\), where 2 of the 3 lines have 6",
        ),
        ("/a.jpg 1 1 1 1\n", r"train_gt\.txt:1: existence flags without a mask path"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "train_gt.txt"
    path.write_text(text)
    with pytest.raises(LabelError, match=message):
        read_culane_list(path)
