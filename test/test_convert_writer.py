"""The CULane tree a conversion writes, its lists and report, and ``lane-sad convert``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from bagutil import lane_sad_here
from convertutil import loaded

from lane_sad_core.data.convert.frames import SourceFrame, SourceLane
from lane_sad_core.data.convert.writer import CulaneTreeWriter, WriteSettings, split_blocks
from lane_sad_core.data.formats import CulaneListEntry, read_culane_list


def _frame(tmp_path: Path, name: str, suffix: str = ".png", size: tuple[int, int] = (360, 640)) -> SourceFrame:
    """A grey frame with two lanes, one per side of the centre."""
    image = tmp_path / "src" / f"{name}{suffix}"
    image.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(image), np.full((*size, 3), 90, np.uint8))
    h, w = size
    lanes = [
        SourceLane([[0.3 * w, h], [0.45 * w, 0.5 * h]], "left"),
        SourceLane([[0.7 * w, h], [0.55 * w, 0.5 * h]], "right"),
    ]
    return SourceFrame(f"{name}{suffix}", image, lanes)


def test_the_tree_is_what_the_loader_and_training_read(tmp_path: Path) -> None:
    writer = CulaneTreeWriter(tmp_path / "out", WriteSettings(split=(1, 0, 0)))
    result = writer.add(_frame(tmp_path, "a"))
    writer.finish("test", tmp_path)
    out = tmp_path / "out"
    assert result.exist == (0, 1, 1, 0) and not result.issues
    assert (out / "frames/a.png").read_bytes() == (tmp_path / "src/a.png").read_bytes()  # copied, not re-encoded
    assert read_culane_list(out / "list/train_gt.txt") == [
        CulaneListEntry("frames/a.png", "laneseg_label_w16/frames/a.png", (0, 1, 1, 0))
    ]
    rows = (out / "frames/a.lines.txt").read_text().splitlines()
    assert rows[0].startswith("192.000 360 ") and rows[1].startswith("448.000 360 ")
    mask = cv2.imread(str(out / "laneseg_label_w16/frames/a.png"), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(mask)) == {0, 2, 3}
    assert np.count_nonzero(mask[300] == 2) in (6, 7)  # 16 px at 1640 wide, scaled to 640: 6 px (+1, OpenCV)
    sample = loaded(out)[0]
    assert sample["exist"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert set(sample["seg"].unique().tolist()) == {0, 2, 3}


def test_frames_split_in_consecutive_blocks() -> None:
    entries = [CulaneListEntry(f"f{i}.jpg") for i in range(10)]
    train, val, test = split_blocks(entries, (0.8, 0.1, 0.1))
    assert [e.image for e in train] == [f"f{i}.jpg" for i in range(8)]
    assert [e.image for e in val] == ["f8.jpg"] and [e.image for e in test] == ["f9.jpg"]
    assert [len(s) for s in split_blocks(entries[:4], (0.8, 0.1, 0.1))] == [3, 0, 1]


def test_other_formats_are_re_encoded_and_bad_frames_are_reported(tmp_path: Path) -> None:
    writer = CulaneTreeWriter(tmp_path / "out", WriteSettings())
    assert writer.add(_frame(tmp_path, "b", ".bmp")).skipped is None
    assert (tmp_path / "out/frames/b.jpg").is_file() and (tmp_path / "out/frames/b.lines.txt").is_file()
    assert writer.add(_frame(tmp_path, "b", ".bmp")).skipped.startswith("a frame with this image was converted")
    missing = SourceFrame("c.jpg", tmp_path / "nowhere.jpg")
    assert writer.add(missing).skipped == f"image: missing {tmp_path / 'nowhere.jpg'}"
    (tmp_path / "src/d.jpg").write_bytes(b"not a jpeg")
    assert writer.add(SourceFrame("d.jpg", tmp_path / "src/d.jpg")).skipped.startswith("image: ")
    report = writer.finish("test", tmp_path)
    assert len(report.written()) == 1 and len(report.lines()) == 3


def test_cli_converts_prints_every_issue_and_writes_the_report(tmp_path: Path, capsys) -> None:
    record = {"raw_file": "clips/a/20.jpg", "h_samples": list(range(160, 720, 10))}
    xs = [round(600 - 0.5 * (y - 160)) for y in record["h_samples"]]
    record["lanes"] = [xs, [x + 700 for x in xs], [-2] * len(xs), [3000 + x for x in xs]]
    (tmp_path / "clips/a").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "clips/a/20.jpg"), np.zeros((720, 1280, 3), np.uint8))
    (tmp_path / "labels.json").write_text(json.dumps(record) + "\n")
    args = ["convert", "--from", "tusimple", tmp_path / "labels.json", "--out", tmp_path / "out"]
    assert lane_sad_here(*args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "clips/a/20.jpg: lane 3: fewer than 2 points (0)"
    assert out[1].startswith("clips/a/20.jpg: lane 4: too short (0 rows")
    assert "1 frames written (train 1, val 0, test 0), 2 lanes (per slot 1:0 2:1 3:1 4:0)" in out[2]
    report = json.loads((tmp_path / "out/convert_report.json").read_text())
    assert report["frames"][0]["issues"] == [out[0].split(": ", 1)[1], out[1].split(": ", 1)[1]]
    assert lane_sad_here(*args) == 2  # the folder is not empty now
    assert "is not empty (use --overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "tusimple", "NOPE"], "no such file or folder: NOPE"),
        (["--from", "masks", "."], "--from masks needs --labels"),
        (["--from", "cvat", "."], "no annotations.xml"),
    ],
)
def test_cli_unusable_input_exits_2_with_one_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert lane_sad_here("convert", *args, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
