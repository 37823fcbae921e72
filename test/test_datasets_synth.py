"""Synthetic trees of both formats load through the same datasets as real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset
from lane_sad_core.data.synth.writer import SynthSettings, generate, write_lists


def _tree(out: Path, fmt: str) -> Path:
    settings = SynthSettings(
        fmt,
        8,
        seed=2,
        splits=(1.0, 0.0, 0.0),
        categories=(("normal", 1.0), ("curve", 1.0), ("cross", 1.0)),
    )
    write_lists(out, settings, list(generate(out, settings)))
    return out


@pytest.fixture(scope="module")
def culane_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("c"), "culane")


def test_synthetic_culane_through_the_culane_dataset(culane_root: Path) -> None:
    with_masks = CULaneDataset(culane_root, "list/train_gt.txt")
    from_lines = CULaneDataset(culane_root, "list/train.txt")
    assert len(with_masks) == len(from_lines) == 8
    for i in range(len(with_masks)):
        a, b = with_masks[i], from_lines[i]
        assert a["image"].shape == (3, 288, 800)
        assert torch.equal(a["exist"], b["exist"])
        # The official-style mask (16 px at 1640x590, nearest-resized) and the lanes drawn
        # at 800x288 cover nearly the same pixels.
        la, lb = a["seg"] > 0, b["seg"] > 0
        if la.any():
            iou = (la & lb).sum().item() / (la | lb).sum().item()
            assert iou > 0.75
        assert with_masks.category(i) in ("normal", "curve", "cross")
    cross = [i for i in range(8) if with_masks.category(i) == "cross"]
    assert cross and all(not with_masks[i]["seg"].any() for i in cross)


def test_synthetic_tusimple_through_the_tusimple_dataset(tmp_path: Path) -> None:
    root = _tree(tmp_path, "tusimple")
    ds = TusimpleDataset(root, "label_data_synth.json")
    assert len(ds) == 8
    for i in range(len(ds)):
        sample = ds[i]
        assert sample["image"].shape == (3, 368, 640)
        slots = [lane.slot for lane in ds.lanes(i)]
        assert sample["exist"].nonzero().flatten().tolist() == slots
        assert ds.category(i) in ("normal", "curve", "cross")
        if ds.category(i) != "cross":
            assert 2 in slots and 3 in slots
            assert np.isin(np.unique(sample["seg"].numpy()), [0] + [s + 1 for s in slots]).all()


def test_absent_masks_fall_back_to_the_lines(culane_root: Path, tmp_path: Path) -> None:
    """A CULane download without laneseg_label_w16 still trains: targets come from lines."""
    copy = tmp_path / "copy"
    shutil.copytree(culane_root, copy, ignore=shutil.ignore_patterns("laneseg_label_w16"))
    without = CULaneDataset(copy, "list/train_gt.txt")
    from_lines = CULaneDataset(culane_root, "list/train.txt")
    for i in range(len(without)):
        assert torch.equal(without[i]["seg"], from_lines[i]["seg"])
        assert torch.equal(without[i]["exist"], from_lines[i]["exist"])
