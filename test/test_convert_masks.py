"""Lanes from label masks (lane_sad_core.data.convert.mask_lanes, masks, lanenet, tvtlane)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from convertutil import convert_to, lanes_by_key

from lane_sad_core.data.convert.lanenet import masks_agree
from lane_sad_core.data.convert.mask_lanes import binary_lanes, instance_lanes
from lane_sad_core.data.formats import read_culane_lines, read_culane_list, read_tusimple
from lane_sad_core.data.slots import assign_slots
from lane_sad_core.data.synth.writer import SynthSettings, generate, write_lists
from lane_sad_core.lanes import Lane

LANENET = "lanenet/MaybeShewill-CV__lanenet-lane-detection"
TVTLANE = "tvtlane/qinnzou__Robust-Lane-Detection/LaneDetectionCode/data"


def _distance(got: Lane, want: Lane) -> tuple[float, float, float]:
    """Median and max |x difference| over ``got``'s rows inside ``want``, and the share of rows compared."""
    ref = want.points[np.argsort(want.points[:, 1])]
    ys = got.points[:, 1]
    inside = (ys >= ref[0, 1]) & (ys <= ref[-1, 1])
    diff = np.abs(got.points[inside, 0] - np.interp(ys[inside], ref[:, 1], ref[:, 0]))
    return float(np.median(diff)), float(diff.max()), float(inside.mean())


def test_lanenet_instance_masks_give_the_official_tusimple_lanes(real_data: Path, tmp_path: Path) -> None:
    """The masks were drawn from TuSimple's labels: the lanes read back lie within ~1 px of them."""
    report = convert_to(tmp_path / "out", "lanenet", real_data / LANENET / "data" / "training_data_example")
    assert len(report.written()) == 4
    assert report.lines() == [
        "0003.png: grey level 220: no free slot right of the centre (meets the bottom at x=3261; "
        "4 slots hold 2 per side)"
    ]
    converted = lanes_by_key(tmp_path / "out")
    matched = real_data / LANENET / "official_labels_matched"
    official = {r.raw_file: r for r in read_tusimple(matched / "label_data_0601.subset.json")}
    with (matched / "mapping.csv").open() as handle:
        for row in csv.DictReader(handle):
            want = assign_slots(official[row["tusimple_raw_file"]].to_lanes(), 1280, 720, 4)
            got = converted[Path(row["local_image"]).stem]
            assert [lane.slot for lane in got] == [lane.slot for lane in want]
            for g, w in zip(got, want, strict=True):
                median, worst, share = _distance(g, w)
                assert median <= 1.0 and worst <= 5.0 and share == 1.0, (row["local_image"], g.slot)


def test_binary_tracking_finds_the_lanes_of_the_instance_mask(real_data: Path) -> None:
    folder = real_data / LANENET / "data" / "training_data_example"
    for name in ("0000.png", "0001.png", "0002.png", "0003.png"):
        instance, _ = instance_lanes(cv2.imread(str(folder / "gt_instance_image" / name), cv2.IMREAD_GRAYSCALE))
        tracked, specks = binary_lanes(cv2.imread(str(folder / "gt_binary_image" / name), cv2.IMREAD_GRAYSCALE))
        assert specks == 0 and len(tracked) == len(instance)
        for _, points in instance:
            best = min(tracked, key=lambda t: abs(t[0, 0] - points[0, 0]) + abs(t[0, 1] - points[0, 1]))
            assert best.shape == points.shape
            assert np.abs(best - points).max() <= 1.0


def test_lanenet_train_list_pairs_the_wrong_binary_mask_and_the_check_sees_it(real_data: Path) -> None:
    """Upstream train.txt pairs image 0003 with binary mask 0000; pairing by name avoids it."""
    folder = real_data / LANENET / "data" / "training_data_example"
    assert masks_agree(folder / "gt_binary_image/0003.png", folder / "gt_instance_image/0003.png") > 0.99
    assert masks_agree(folder / "gt_binary_image/0000.png", folder / "gt_instance_image/0003.png") < 0.5


def test_tvtlane_truth_masks_give_lanes_on_their_pixels(real_data: Path, tmp_path: Path) -> None:
    report = convert_to(tmp_path / "out", "tvtlane", real_data / TVTLANE)
    assert [f.key for f in report.written()] == [f"testset/image/{k}.jpg" for k in ("1_13", "2_27", "3_12", "4_13")]
    assert report.lines() == ["testset/image/3_12.jpg: ignored 2 speck(s) of mask pixels too small to be lanes"]
    for key, lanes in lanes_by_key(tmp_path / "out").items():
        truth = cv2.imread(str(real_data / TVTLANE / key.replace("image", "truth")) + ".jpg", cv2.IMREAD_GRAYSCALE)
        near = cv2.dilate((truth > 127).astype(np.uint8), np.ones((3, 3), np.uint8))
        assert len(lanes) == 3
        for lane in lanes:
            x, y = np.rint(lane.points[:, 0]).astype(int), np.rint(lane.points[:, 1]).astype(int)
            assert near[y, x].mean() > 0.9, key


def test_masks_of_known_lines_convert_back_to_those_lines(tmp_path: Path) -> None:
    """Synthetic frames: .lines.txt -> slot masks (instance, and thresholded to binary) -> lanes again."""
    synth = tmp_path / "synth"
    settings = SynthSettings(format="culane", num=12, seed=2, splits=(1.0, 0.0, 0.0))
    write_lists(synth, settings, list(generate(synth, settings)))
    binary = tmp_path / "binary"
    for mask in (synth / "laneseg_label_w16").rglob("*.png"):
        target = binary / mask.relative_to(synth / "laneseg_label_w16")
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), (cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8) * 255)
    entries = {e.image.rsplit(".", 1)[0].split("/", 1)[1]: e for e in read_culane_list(synth / "list/train_gt.txt")}
    for kind, labels in (
        ("instance", synth / "laneseg_label_w16" / "driver_synth"),
        ("binary", binary / "driver_synth"),
    ):
        out = tmp_path / kind
        convert_to(out, "masks", synth / "driver_synth", labels=labels, mask_kind=kind)
        for key, lanes in lanes_by_key(out).items():
            entry = entries[key]
            assert [lane.slot for lane in lanes] == [k for k, e in enumerate(entry.exist) if e], (kind, key)
            truth = read_culane_lines(synth / entry.image.replace(".jpg", ".lines.txt"))
            for got, want in zip(lanes, truth, strict=True):
                median, _, share = _distance(got, want)
                assert median < 1.0 and share > 0.9, (kind, key, got.slot)
