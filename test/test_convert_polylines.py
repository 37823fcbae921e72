"""Polyline label formats built to their published schemas around real frames with known lanes:
CVAT for images 1.1 XML, LabelMe JSON, BDD100K (three releases) and OpenLane's real sample."""

from __future__ import annotations

import base64
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from bagutil import REAL_TUSIMPLE
from convertutil import convert_to, lanes_by_key

from lane_sad_core.data.convert import LaneRules, ReaderOptions, convert
from lane_sad_core.data.convert.bdd100k import bezier_path
from lane_sad_core.data.convert.writer import WriteSettings
from lane_sad_core.data.formats import read_culane_lines

OPENLANE = "openlane/OpenDriveLab__OpenLane/eval/LANE_evaluation/lane2d/example"
FRAMES = ("train_images/0", "train_images/1", "train_images/5", "test_images/0")


@pytest.fixture
def known(real_data: Path, tmp_path: Path) -> tuple[Path, dict[str, list], dict[str, list[np.ndarray]]]:
    """Real 1280x720 frames, their lanes as the `lines` converter writes them, and the raw polylines."""
    images = tmp_path / "images"
    raw: dict[str, list[np.ndarray]] = {}
    for key in FRAMES:
        (images / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(real_data / REAL_TUSIMPLE / "raws" / f"{key}.jpg", images / f"{key}.jpg")
        label = real_data / REAL_TUSIMPLE / "raws" / f"{key.replace('images', 'labels')}.txt"
        raw[key] = [lane.points for lane in read_culane_lines(label)]
        shutil.copy(label, images / f"{key}.txt")
    convert_to(tmp_path / "reference", "lines", images)
    reference = lanes_by_key(tmp_path / "reference")
    for key in FRAMES:
        (images / f"{key}.txt").unlink()
    return images, reference, raw


def _same(converted: dict[str, list], reference: dict[str, list]) -> None:
    assert converted.keys() == reference.keys()
    for key, lanes in reference.items():
        assert [lane.slot for lane in converted[key]] == [lane.slot for lane in lanes], key
        for got, want in zip(converted[key], lanes, strict=True):
            assert np.allclose(got.points, want.points), key


def _cvat(raw: dict[str, list[np.ndarray]], slots: dict[str, list[int]] | None = None) -> str:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    ET.SubElement(ET.SubElement(root, "meta"), "task")
    for i, (key, lanes) in enumerate(raw.items()):
        image = ET.SubElement(root, "image", id=str(i), name=f"{key}.jpg", width="1280", height="720")
        ET.SubElement(image, "box", label="car", occluded="0", xtl="1", ytl="2", xbr="30", ybr="40", z_order="0")
        for k, points in enumerate(lanes):
            text = ";".join(f"{x:.2f},{y:.2f}" for x, y in points)
            shape = ET.SubElement(image, "polyline", label="lane", source="manual", occluded="0", points=text)
            if slots:
                ET.SubElement(shape, "attribute", name="slot").text = str(slots[key][k])
    return ET.tostring(root, encoding="unicode")


def test_cvat_polylines_convert_like_the_text_labels(known, tmp_path: Path) -> None:
    images, reference, raw = known
    (tmp_path / "annotations.xml").write_text(_cvat(raw))
    report = convert_to(tmp_path / "out", "cvat", tmp_path / "annotations.xml", images=images)
    _same(lanes_by_key(tmp_path / "out"), reference)
    assert report.frames[0].issues == ["left out 1 box shape(s): not a lane polyline"]


def test_cvat_slot_attributes_are_kept_and_sizes_checked(known, tmp_path: Path) -> None:
    images, reference, _ = known
    three = {"train_images/0": [lane.points for lane in reference["train_images/0"][:3]]}  # slots 1, 2, 3
    (tmp_path / "annotations.xml").write_text(_cvat(three, {"train_images/0": [2, 3, 4]}))
    report = convert_to(tmp_path / "out", "cvat", tmp_path / "annotations.xml", images=images)
    assert report.frames[0].exist == (0, 1, 1, 1) and report.frames[0].issues == [
        "left out 1 box shape(s): not a lane polyline"
    ]
    lanes = lanes_by_key(tmp_path / "out")["train_images/0"]
    assert [lane.slot for lane in lanes] == [1, 2, 3]
    assert [lane.points[0, 0] for lane in lanes] == [p[0, 0] for p in three["train_images/0"]]
    (tmp_path / "mirrored.xml").write_text(_cvat(three, {"train_images/0": [3, 2, 1]}))
    report = convert_to(tmp_path / "out2", "cvat", tmp_path / "mirrored.xml", images=images)
    assert report.frames[0].issues[-1].startswith("the source's slots run against the lanes' left-to-right order")
    (tmp_path / "small.xml").write_text(_cvat(three).replace('width="1280"', 'width="640"'))
    report = convert_to(tmp_path / "out3", "cvat", tmp_path / "small.xml", images=images)
    assert report.frames[0].skipped == "the labels are for 640x720, the image is 1280x720"


def test_labelme_line_strips_convert_like_the_text_labels(known, tmp_path: Path) -> None:
    images, reference, raw = known
    for i, (key, lanes) in enumerate(raw.items()):
        shapes = [
            {"label": "lane", "points": p.tolist(), "group_id": None, "shape_type": "linestrip", "flags": {}}
            for p in lanes
        ]
        shapes.append(
            {"label": "sign", "points": [[1, 2], [30, 40]], "group_id": None, "shape_type": "rectangle", "flags": {}}
        )
        doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imageHeight": 720, "imageWidth": 1280}
        image = images / f"{key}.jpg"
        doc["imagePath"] = f"../../images/{key}.jpg"
        doc["imageData"] = None
        if i == 0:  # this one carries its pixels inside the JSON and no image file
            doc["imagePath"], doc["imageData"] = "gone.jpg", base64.b64encode(image.read_bytes()).decode()
        target = tmp_path / "json" / f"{key}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc))
    report = convert_to(tmp_path / "out", "labelme", tmp_path / "json", images=None)
    converted = lanes_by_key(tmp_path / "out")
    _same(converted, reference)
    assert (tmp_path / "out/frames/train_images/0.jpg").read_bytes() == (images / "train_images/0.jpg").read_bytes()
    frames = {f.key: f for f in report.frames}
    assert frames["train_images/0.jpg"].issues == ["left out 1 rectangle 'sign' shape(s): not a lane line"]


def _bdd_label(points: np.ndarray, category: str, release: int) -> dict:
    if release == 0:
        return {
            "category": f"lane/{category}",
            "attributes": {"direction": "parallel"},
            "poly2d": [[*p, "L"] for p in points.tolist()],
        }
    poly = {"vertices": points.tolist(), "types": "L" * len(points), "closed": False}
    if release == 1:
        return {"category": "lane", "attributes": {"laneType": category, "laneDirection": "parallel"}, "poly2d": [poly]}
    return {"category": category, "attributes": {"laneDirection": "parallel", "laneStyle": "solid"}, "poly2d": [poly]}


@pytest.mark.parametrize("release", [0, 1, 2])
def test_bdd100k_lanes_of_each_release_convert_like_the_text_labels(known, tmp_path: Path, release: int) -> None:
    images, reference, raw = known
    frames = []
    for key, lanes in raw.items():
        labels = [_bdd_label(p, "single white", release) for p in lanes]
        stop = np.array([[300.0, 600.0], [900.0, 610.0]])
        labels.append(
            _bdd_label(stop, "single white", release)
            | {"attributes": {"laneDirection": "vertical", "direction": "vertical"}}
        )
        labels.append(_bdd_label(stop, "crosswalk", release))
        labels.append({"category": "car", "box2d": {"x1": 1, "y1": 2, "x2": 3, "y2": 4}})
        frame = {"name": f"{key}.jpg", "attributes": {"timeofday": "daytime"}, "labels": labels}
        if release == 0:
            frame = {"name": key.split("/")[1], "frames": [{"timestamp": 0, "objects": labels}]}
        frames.append(frame)
    if release == 0:  # one file per image
        (tmp_path / "labels").mkdir()
        for frame in frames[:3]:  # the train_images ones
            (tmp_path / "labels" / f"{frame['name']}.json").write_text(json.dumps(frame))
        report = convert_to(tmp_path / "out", "bdd100k", tmp_path / "labels", images=images / "train_images")
        reference = {k.split("/")[1]: v for k, v in reference.items() if k.startswith("train_images")}
    else:
        (tmp_path / "lane_train.json").write_text(json.dumps(frames))
        report = convert_to(tmp_path / "out", "bdd100k", tmp_path / "lane_train.json", images=images)
    _same(lanes_by_key(tmp_path / "out"), reference)
    notes = report.written()[0].issues
    assert len(notes) == 2 and "drawn across the road" in notes[0] and "a crosswalk" in notes[1]


def test_bdd100k_bezier_segments_follow_their_curve() -> None:
    """A quadratic x = y^2 / 400 raised to a cubic Bezier: the sampled path lies on it."""
    q0, q1, q2 = np.array([0.0, 0.0]), np.array([0.0, 200.0]), np.array([400.0, 400.0])
    p1, p2 = q0 + 2 / 3 * (q1 - q0), q2 + 2 / 3 * (q1 - q2)
    path = bezier_path(np.array([q0, p1, p2, q2, [500.0, 500.0]]), "LCCLL")
    assert path[0].tolist() == [0.0, 0.0] and path[-1].tolist() == [500.0, 500.0]
    curve = path[:-1]
    assert len(curve) == 17 and np.allclose(curve[:, 0], curve[:, 1] ** 2 / 400.0)


def test_openlane_sample_keeps_its_slots_and_reports_curbs_and_outer_lanes(real_data: Path, tmp_path: Path) -> None:
    report = convert_to(tmp_path / "out", "openlane", real_data / OPENLANE / "annotations")
    assert len(report.written()) == 2
    for frame in report.frames:
        assert frame.key.startswith("validation/segment-")  # file_path kept, image found without 'validation/'
        assert [i.split(":")[0] for i in frame.issues] == [
            "track 1 (left-curbside)",
            "track 2 (right-curbside)",
            "track 5 (white-solid)",
        ]
    converted = lanes_by_key(tmp_path / "out")
    for path in (real_data / OPENLANE / "annotations").rglob("*.json"):
        data = json.loads(path.read_text())
        lanes = converted[data["file_path"].rsplit(".", 1)[0]]
        by_attribute = {line["attribute"]: np.asarray(line["uv"]).T for line in data["lane_lines"] if line["attribute"]}
        assert [lane.slot + 1 for lane in lanes] == sorted(by_attribute) == [3, 4]
        for lane in lanes:
            uv = by_attribute[lane.slot + 1]
            uv = uv[np.argsort(uv[:, 1])]
            assert np.allclose(lane.points[:, 0], np.interp(lane.points[:, 1], uv[:, 1], uv[:, 0]))
    kept = convert_to(tmp_path / "curbs", "openlane", real_data / OPENLANE / "annotations", keep_curbs=True)
    assert any("already taken" in issue for issue in kept.frames[0].issues)
    rules, options = LaneRules(num_slots=6), ReaderOptions(num_slots=6)
    six = convert("openlane", real_data / OPENLANE / "annotations", tmp_path / "six", options, WriteSettings(rules))
    assert six.frames[0].exist == (0, 0, 0, 1, 1, 0)  # attributes 3 and 4: the two right of the ego lane
