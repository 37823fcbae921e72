"""Synthetic trees in the official layouts: files, lists, labels, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lane_sad_core.data.formats import (
    TUSIMPLE_ABSENT,
    read_culane_lines,
    read_culane_list,
    read_tusimple,
)
from lane_sad_core.data.synth.scene import CATEGORIES
from lane_sad_core.data.synth.writer import (
    SynthSettings,
    frame_split,
    generate,
    parse_categories,
    write_lists,
)
from lane_sad_core.errors import ConfigError

NUM = 18


def _build(out: Path, settings: SynthSettings, workers: int = 1) -> Path:
    write_lists(out, settings, list(generate(out, settings, workers)))
    return out


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def culane_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(
        tmp_path_factory.mktemp("culane"),
        SynthSettings("culane", NUM, seed=7, splits=(0.5, 0.2, 0.3)),
    )


@pytest.fixture(scope="module")
def tusimple_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(
        tmp_path_factory.mktemp("tusimple"),
        SynthSettings("tusimple", NUM, seed=7, splits=(0.5, 0.2, 0.3)),
    )


def test_culane_layout_and_lists(culane_tree: Path) -> None:
    lists = culane_tree / "list"
    train_gt = read_culane_list(lists / "train_gt.txt")
    splits = {name: read_culane_list(lists / f"{name}.txt") for name in ("train", "val", "test")}
    assert sum(len(v) for v in splits.values()) == NUM
    assert [e.image for e in train_gt] == [e.image for e in splits["train"]]
    assert (lists / "val_gt.txt").is_file()
    names = sorted(p.name for p in (lists / "test_split").iterdir())
    assert names == [f"test{k}_{c}.txt" for k, c in enumerate(CATEGORIES)]
    meta = json.loads((culane_tree / "meta.json").read_text())
    tested = {e.image for e in splits["test"]}
    for k, category in enumerate(CATEGORIES):
        for entry in read_culane_list(lists / "test_split" / f"test{k}_{category}.txt"):
            assert entry.image in tested and meta["categories"][entry.image] == category
    assert meta["settings"]["seed"] == 7 and meta["preset"]["width"] == 1640
    assert train_gt[0].image.startswith("driver_synth/") and train_gt[0].image.endswith(".jpg")


def test_culane_flags_lines_and_masks_agree(culane_tree: Path) -> None:
    for entry in read_culane_list(culane_tree / "list" / "train_gt.txt"):
        image = cv2.imread(str(culane_tree / entry.image))
        mask = cv2.imread(str(culane_tree / entry.mask), cv2.IMREAD_UNCHANGED)
        lanes = read_culane_lines((culane_tree / entry.image).with_suffix(".lines.txt"))
        assert image.shape == (590, 1640, 3) and mask.shape == (590, 1640) and mask.dtype == np.uint8
        assert sum(entry.exist) == len(lanes)
        present = sorted(int(v) for v in np.unique(mask) if v)
        assert present == [k + 1 for k, e in enumerate(entry.exist) if e]
        slots = [k for k, e in enumerate(entry.exist) if e]
        for lane, slot in zip(lanes, slots, strict=True):
            ys = lane.points[:, 1]
            assert ys[0] <= 590 and np.all(np.diff(ys) == -10)  # CULane rows: bottom up, step 10
            inside = [(x, y) for x, y in lane.points if 0 <= x < 1640 and y < 590]
            assert all(mask[int(y), round(x)] == slot + 1 for x, y in inside[::3])


def test_crossroad_frames_have_no_lanes(culane_tree: Path) -> None:
    meta = json.loads((culane_tree / "meta.json").read_text())
    for image, category in meta["categories"].items():
        if category == "cross":
            assert (culane_tree / image).with_suffix(".lines.txt").read_text() == ""


def test_tusimple_labels(tusimple_tree: Path) -> None:
    records = [
        r
        for name in ("label_data_synth.json", "val_label.json", "test_label.json")
        for r in read_tusimple(tusimple_tree / name)
    ]
    assert len(records) == NUM
    for rec in records:
        assert rec.h_samples == list(range(160, 711, 10))
        assert (tusimple_tree / rec.raw_file).is_file() and rec.raw_file.startswith("clips/")
        assert len(rec.lanes) <= 5
        for xs in rec.lanes:
            valid = [x for x in xs if x != TUSIMPLE_ABSENT]
            assert len(valid) >= 2 and all(0 <= x < 1280 and float(x).is_integer() for x in valid)
    image = cv2.imread(str(tusimple_tree / records[0].raw_file))
    assert image.shape == (720, 1280, 3)


def test_same_seed_gives_identical_bytes_with_any_worker_count(tmp_path: Path) -> None:
    settings = SynthSettings("culane", 6, seed=3, categories=(("night", 1.0), ("crowd", 1.0)))
    one = _digest(_build(tmp_path / "a", settings))
    two = _digest(_build(tmp_path / "b", settings, workers=2))
    assert one == two
    other = _digest(_build(tmp_path / "c", SynthSettings("culane", 6, seed=4)))
    assert other != one


def test_frame_prefixes_are_stable(tmp_path: Path) -> None:
    """Frame i does not depend on how many frames are generated."""
    small = _digest(_build(tmp_path / "s", SynthSettings("tusimple", 2, seed=9)))
    big = _digest(_build(tmp_path / "b", SynthSettings("tusimple", 4, seed=9)))
    images = [k for k in small if k.endswith(".jpg")]
    assert len(images) == 2 and all(small[k] == big[k] for k in images)


def test_splits_follow_the_fractions() -> None:
    splits = [frame_split(i, (0.8, 0.1, 0.1)) for i in range(1000)]
    assert abs(splits.count("train") - 800) <= 5 and abs(splits.count("test") - 100) <= 5


def test_category_weights_are_parsed_and_checked() -> None:
    assert parse_categories(["night:2", "crowded"]) == (("night", 2.0), ("crowd", 1.0))
    assert len(parse_categories(None)) == 9
    with pytest.raises(ConfigError, match="not a number"):
        parse_categories(["night:x"])
    with pytest.raises(ConfigError, match="must be > 0"):
        parse_categories(["night:0"])
