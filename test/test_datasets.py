"""CULane and TuSimple datasets on the real labelled frames and on synthetic trees."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lane_sad_core.data.augment import AugmentConfig
from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset, culane_preprocess
from lane_sad_core.data.formats import (
    CulaneListEntry,
    read_tusimple,
    write_culane_lines,
    write_culane_list,
)
from lane_sad_core.data.preprocess import source_to_network
from lane_sad_core.data.slots import assign_slots
from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane

CULANE = "culane/sgadgil6__Lane-Detection-CS4476"
TUSIMPLE = "tusimple/liuruijin17__LSTR"
TUSIMPLE_SMALL = "tusimple_512x288/sergey-ryzhikov__TusimpleLabelData"


@pytest.fixture(scope="module")
def culane(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> CULaneDataset:
    """The real CULane frames through a list file written next to them (they ship none)."""
    root = real_data / CULANE
    images = sorted(root.glob("driver_*/*/*.jpg"))
    list_file = tmp_path_factory.mktemp("culane") / "all.txt"
    write_culane_list(list_file, [CulaneListEntry(str(p.relative_to(root))) for p in images])
    return CULaneDataset(root, list_file)


@pytest.fixture(scope="module")
def tusimple_root(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official TuSimple layout (clips/<date>/<id>/20.jpg + json) built from mapping.csv."""
    source = real_data / TUSIMPLE
    root = tmp_path_factory.mktemp("tusimple")
    matched = source / "official_labels_matched"
    with (matched / "mapping.csv").open() as handle:
        for row in csv.DictReader(handle):
            target = root / row["tusimple_raw_file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source / row["local_image"])
    for name in ("label_data_0313.subset.json", "test_label.subset.json"):
        shutil.copy(matched / name, root / name)
    return root


def _on_target(seg: torch.Tensor, lane: Lane, src_shape: tuple[int, int], cfg) -> float:
    """Fraction of a lane's label points (mapped to network pixels) that hit its slot."""
    pts = np.round(source_to_network(lane.points, src_shape, cfg)).astype(int)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < cfg.width) & (pts[:, 1] >= 0) & (pts[:, 1] < cfg.height)
    pts = pts[inside]
    return float((seg[pts[:, 1], pts[:, 0]] == lane.slot + 1).float().mean())


def test_culane_sample_shapes_types_and_paper_size(culane: CULaneDataset) -> None:
    sample = culane[0]
    assert len(culane) == 41
    assert sample["image"].shape == (3, 288, 800) and sample["image"].dtype == torch.float32
    assert sample["seg"].shape == (288, 800) and sample["seg"].dtype == torch.int64
    assert sample["exist"].shape == (4,) and sample["exist"].dtype == torch.float32
    assert sample["index"] == 0
    assert culane.source_size(0) == (590, 1640)
    assert culane.category(0) == "unknown"


def test_culane_labels_land_on_their_slot_pixels(culane: CULaneDataset) -> None:
    four = next(i for i in range(len(culane)) if len(culane.lanes(i)) == 4)
    sample = culane[four]
    lanes = culane.lanes(four)
    assert [lane.slot for lane in lanes] == [0, 1, 2, 3]
    assert sample["exist"].tolist() == [1.0, 1.0, 1.0, 1.0]
    for lane in lanes:
        assert _on_target(sample["seg"], lane, (590, 1640), culane.preprocess) > 0.95
    # Lanes are 16 px wide at 1640x590, i.e. about 8 px at 800x288: the steepest lane's
    # horizontal run shows it (slanted ones are wider across a row).
    row = sample["seg"][250]
    widths = [int((row == k).sum()) for k in range(1, 5) if (row == k).any()]
    assert 7 <= min(widths) <= 10


def test_culane_empty_label_file_means_no_lanes(culane: CULaneDataset) -> None:
    empty = [i for i in range(len(culane)) if culane.label_path(i).stat().st_size == 0]
    assert len(empty) == 2
    sample = culane[empty[0]]
    assert not sample["seg"].any()
    assert sample["exist"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_culane_flags_and_masks_from_the_list_are_used(real_data: Path, tmp_path: Path) -> None:
    root = real_data / CULANE
    image = sorted(root.glob("driver_*/*/*.jpg"))[0]
    rel = str(image.relative_to(root))
    # A mask with a single labelled block, not what the lines say: the mask must win.
    import cv2

    mask = np.zeros((590, 1640), np.uint8)
    mask[500:590, 100:300] = 2
    (tmp_path / "m.png").parent.mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    local = tmp_path / rel
    local.parent.mkdir(parents=True)
    local.symlink_to(image)
    local.with_suffix(".lines.txt").symlink_to(image.with_suffix(".lines.txt"))
    write_culane_list(tmp_path / "list" / "train_gt.txt", [CulaneListEntry(rel, "m.png", (0, 1, 0, 0))])
    ds = CULaneDataset(tmp_path, "list/train_gt.txt")
    sample = ds[0]
    assert sample["exist"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert set(torch.unique(sample["seg"]).tolist()) == {0, 2}
    assert sample["seg"][280, 100].item() == 2 and sample["seg"][100, 100].item() == 0


def test_culane_flag_count_must_match_slots(tmp_path: Path) -> None:
    write_culane_list(tmp_path / "l.txt", [CulaneListEntry("a.jpg", "a.png", (1, 1))])
    with pytest.raises(LabelError, match=r"l\.txt: a\.jpg has 2 existence flags.*num_slots=4"):
        CULaneDataset(tmp_path, tmp_path / "l.txt")


def test_culane_bad_label_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "a.lines.txt").write_text("1 590 2 580\n3 590 x 580\n")
    write_culane_list(tmp_path / "l.txt", [CulaneListEntry("a.jpg")])
    with pytest.raises(LabelError, match=r"a\.lines\.txt:2: not a number"):
        CULaneDataset(tmp_path, tmp_path / "l.txt").lanes(0)


def test_flip_swaps_slots_and_mirrors(culane: CULaneDataset) -> None:
    index = next(i for i in range(len(culane)) if len(culane.lanes(i)) == 4)
    plain = culane[index]
    flipped_ds = CULaneDataset(
        culane.root,
        culane.list_file,
        augment=AugmentConfig.identity(hflip_prob=1.0, noise_std=0.0),
    )
    flipped = flipped_ds[index]
    swap = torch.tensor([0, 4, 3, 2, 1])
    assert torch.equal(flipped["seg"], swap[plain["seg"].flip(-1)])
    assert flipped["exist"].tolist() == plain["exist"].flip(0).tolist()
    assert torch.allclose(flipped["image"], plain["image"].flip(-1))


def test_augmentation_replays_per_epoch(culane: CULaneDataset) -> None:
    ds = CULaneDataset(culane.root, culane.list_file, augment=AugmentConfig(seed=4))
    ds.set_epoch(3)
    a = ds[1]
    b = ds[1]
    ds.set_epoch(4)
    c = ds[1]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["seg"], b["seg"])
    assert not torch.equal(a["image"], c["image"])


def test_tusimple_official_layout_loads_with_six_slots(tusimple_root: Path) -> None:
    ds = TusimpleDataset(tusimple_root, ["label_data_0313.subset.json", "test_label.subset.json"])
    assert len(ds) == 14
    sample = ds[0]
    assert sample["image"].shape == (3, 368, 640)
    assert sample["exist"].shape == (6,)
    for i in range(len(ds)):
        lanes = ds.lanes(i)
        slots = [lane.slot for lane in lanes]
        assert slots == sorted(slots) and 3 <= len(slots) <= 5
        assert 2 in slots and 3 in slots  # the ego lane's two boundaries straddle the centre
    for lane in ds.lanes(0):
        assert _on_target(sample["seg"], lane, (720, 1280), ds.preprocess) > 0.95
    assert sample["exist"].sum().item() == len(ds.lanes(0))


def test_tusimple_four_slots_keep_the_central_lanes(tusimple_root: Path) -> None:
    ds = TusimpleDataset(tusimple_root, "test_label.subset.json", num_slots=4)
    for i in range(len(ds)):
        assert all(0 <= lane.slot < 4 for lane in ds.lanes(i))


def test_tusimple_resized_set_matches_official_labels(real_data: Path) -> None:
    root = real_data / TUSIMPLE_SMALL / "tusimple_sample_512x288"
    ds = TusimpleDataset(root, "label_data.json")
    official = {
        r.raw_file: r
        for r in read_tusimple(
            real_data / TUSIMPLE_SMALL / "official_labels_matched" / "label_data_0313.subset.1280x720.json"
        )
    }
    assert len(ds) == 7
    assert ds.source_size(0) == (288, 512)
    for i in range(len(ds)):
        small = ds.lanes(i)
        full = assign_slots(official[ds.records[i].raw_file].to_lanes(), 1280, 720, 6)
        assert [lane.slot for lane in small] == [lane.slot for lane in full]
        for lane, ref in zip(small, full, strict=True):
            assert np.abs(lane.points * 2.5 - ref.points).max() <= 1.5
    sample = ds[0]
    for lane in ds.lanes(0):
        assert _on_target(sample["seg"], lane, (288, 512), ds.preprocess) > 0.9


def test_missing_image_is_reported_with_its_path(tmp_path: Path) -> None:
    write_culane_lines(tmp_path / "gone.lines.txt", [])
    write_culane_list(tmp_path / "l.txt", [CulaneListEntry("gone.jpg")])
    ds = CULaneDataset(tmp_path, tmp_path / "l.txt", culane_preprocess())
    with pytest.raises(FileNotFoundError, match=r"gone\.jpg"):
        ds[0]
