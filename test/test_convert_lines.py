"""Per-image 'x y x y' text labels (lane_sad_core.data.convert.lines): LSTR's TuSimple files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from bagutil import REAL_CULANE, REAL_TUSIMPLE, real_tusimple_root
from convertutil import convert_to, lanes_by_key, loaded

from lane_sad_core.data.check import check_dataset
from lane_sad_core.data.convert import ReaderOptions, convert
from lane_sad_core.data.convert.lines import label_for
from lane_sad_core.data.convert.writer import WriteSettings
from lane_sad_core.data.formats import read_culane_lines


def test_lstr_text_labels_give_the_lanes_of_the_official_json(real_data: Path, tmp_path: Path) -> None:
    """LSTR's .txt (in train_labels/ beside train_images/) equal TuSimple's lines point for point."""
    report = convert_to(tmp_path / "lines", "lines", real_data / REAL_TUSIMPLE / "raws")
    assert len(report.written()) == 14
    root, _ = real_tusimple_root(real_data, tmp_path / "ts")
    shutil.copy(real_data / REAL_TUSIMPLE / "official_labels_matched" / "label_data_0313.subset.json", root)
    convert_to(tmp_path / "json", "tusimple", root)
    from_lines, from_json = lanes_by_key(tmp_path / "lines"), lanes_by_key(tmp_path / "json")
    with (real_data / REAL_TUSIMPLE / "official_labels_matched" / "mapping.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        a = from_lines[row["local_image"].removeprefix("raws/").rsplit(".", 1)[0]]
        b = from_json[row["tusimple_raw_file"].rsplit(".", 1)[0]]
        assert [lane.slot for lane in a] == [lane.slot for lane in b], row["local_image"]
        for got, want in zip(a, b, strict=True):
            assert np.array_equal(got.points, want.points)


def test_label_files_are_found_beside_in_labels_or_in_a_sibling_folder(tmp_path: Path) -> None:
    for rel in ("a/images/x.jpg", "a/images/y.jpg", "a/images/z.jpg", "a/images/w.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    (tmp_path / "a/images/x.lines.txt").touch()
    (tmp_path / "a/labels").mkdir()
    (tmp_path / "a/labels/y.txt").touch()
    (tmp_path / "other/a/images").mkdir(parents=True)
    (tmp_path / "other/a/images/z.txt").touch()
    options = ReaderOptions(labels=tmp_path / "other")
    assert label_for(tmp_path / "a/images/x.jpg", tmp_path, options) == tmp_path / "a/images/x.lines.txt"
    assert label_for(tmp_path / "a/images/y.jpg", tmp_path, options) == tmp_path / "a/labels/y.txt"
    assert label_for(tmp_path / "a/images/z.jpg", tmp_path, options) == tmp_path / "other/a/images/z.txt"
    assert label_for(tmp_path / "a/images/w.jpg", tmp_path, options) is None


def test_real_culane_frames_keep_their_points_and_get_flags(real_data: Path, tmp_path: Path) -> None:
    """CULane's own labels are already on CULane's rows: converting them changes no point."""
    report = convert_to(tmp_path / "out", "lines", real_data / REAL_CULANE)
    assert len(report.written()) == 41 and report.lines() == []
    converted = lanes_by_key(tmp_path / "out")
    for label in (real_data / REAL_CULANE).rglob("*.lines.txt"):
        source = read_culane_lines(label)
        lanes = converted[label.relative_to(real_data / REAL_CULANE).as_posix().removesuffix(".lines.txt")]
        assert [lane.slot for lane in lanes] == ([0, 1, 2, 3] if len(source) == 4 else [lane.slot for lane in lanes])
        for got, want in zip(lanes, source, strict=True):
            assert np.allclose(got.points, want.points, atol=1e-3)


def test_ego_lane_labels_flag_the_outer_slots_unknown(real_data: Path, tmp_path: Path) -> None:
    """culane_ego labels only the ego pair: with --unknown-slots 1 4 training is told so ('?')."""
    ego = real_data / "culane_ego/czming__RONELD-Lane-Detection/example"
    for stem in ("00000", "00030", "00060"):
        for suffix in (".jpg", ".lines.txt"):
            shutil.copy(ego / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    settings = WriteSettings(split=(1.0, 0.0, 0.0), unknown_slots=(0, 3))
    report = convert("lines", tmp_path, tmp_path / "out", ReaderOptions(), settings)
    assert [f.exist for f in report.written()] == [(-1, 1, 1, -1)] * 3
    assert (tmp_path / "out/list/train_gt.txt").read_text().split("\n")[0].endswith(" ? 1 1 ?")
    sample = loaded(tmp_path / "out")[0]
    assert sample["exist"].tolist() == [-1.0, 1.0, 1.0, -1.0]
    assert check_dataset(tmp_path / "out").defects() == []
