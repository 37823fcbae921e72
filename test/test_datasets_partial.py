"""Partial labels (``?`` existence flags) and a teacher's soft maps read beside the frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lane_sad_core.data.augment import AugmentConfig
from lane_sad_core.data.datasets import CULaneDataset
from lane_sad_core.data.formats import CulaneListEntry, read_culane_list, write_culane_list
from lane_sad_core.data.preprocess import PreprocessConfig

PRE = PreprocessConfig(width=200, height=72, crop_top=0.25)
SCNN = "{stem}_{slot}_avg.png"


def _frame(root: Path, name: str) -> None:
    """A 400x160 frame with the two ego lines labelled and SCNN-style maps for slots 1..4."""
    cv2.imwrite(str(root / f"{name}.jpg"), np.full((160, 400, 3), 90, np.uint8))
    (root / f"{name}.lines.txt").write_text("150 159 190 60 \n250 159 210 60 \n")
    for slot, x in enumerate((40, 150, 250, 360), start=1):
        prob = np.zeros((96, 240), np.uint8)  # the frame at scale 0.6, as SCNN's 976x351 maps
        prob[:, round(x * 0.6) - 3 : round(x * 0.6) + 3] = 200
        cv2.imwrite(str(root / SCNN.format(stem=name, slot=slot)), prob)


@pytest.fixture
def ego_set(tmp_path: Path) -> tuple[Path, Path]:
    _frame(tmp_path, "a")
    listing = tmp_path / "train.txt"
    listing.write_text("/a.jpg /none.png ? 1 1 ?\n")
    return tmp_path, listing


def test_unknown_flags_round_trip(tmp_path: Path) -> None:
    entry = CulaneListEntry("a.jpg", "a.png", (-1, 1, 1, -1))
    write_culane_list(tmp_path / "l.txt", [entry])
    assert (tmp_path / "l.txt").read_text() == "/a.jpg /a.png ? 1 1 ?\n"
    assert read_culane_list(tmp_path / "l.txt") == [entry]


def test_ego_labels_take_the_flagged_slots_and_unknown_stays_unknown(ego_set: tuple[Path, Path]) -> None:
    root, listing = ego_set
    data = CULaneDataset(root, listing, PRE)
    assert [lane.slot for lane in data.lanes(0)] == [1, 2]
    sample = data[0]
    assert sample["exist"].tolist() == [-1.0, 1.0, 1.0, -1.0]
    assert set(np.unique(sample["seg"].numpy())) == {0, 2, 3}
    assert "soft" not in sample  # no pattern, no soft maps


def test_soft_maps_are_cropped_resized_and_normalised(ego_set: tuple[Path, Path]) -> None:
    root, listing = ego_set
    sample = CULaneDataset(root, listing, PRE, soft_targets=SCNN)[0]
    soft = sample["soft"].numpy()
    assert sample["has_soft"].item() == 1.0
    assert soft.shape == (5, 72, 200)
    np.testing.assert_allclose(soft.sum(axis=0), 1.0, atol=1e-5)
    columns = soft[1:, 40].argmax(axis=1)  # where each slot's map peaks on one row
    np.testing.assert_allclose(columns, np.array([40, 150, 250, 360]) / 2, atol=2)
    assert soft[0, 40, 100] == pytest.approx(1.0)  # between the lines: background only


def test_a_flip_mirrors_soft_maps_and_swaps_their_slots(ego_set: tuple[Path, Path]) -> None:
    root, listing = ego_set
    plain = CULaneDataset(root, listing, PRE, soft_targets=SCNN)[0]
    flip = AugmentConfig.identity(hflip_prob=1.0)
    flipped = CULaneDataset(root, listing, PRE, augment=flip, soft_targets=SCNN)[0]
    expected = plain["soft"].numpy()[[0, 4, 3, 2, 1], :, ::-1]
    np.testing.assert_allclose(flipped["soft"].numpy(), expected, atol=1e-6)
    assert flipped["exist"].tolist() == [-1.0, 1.0, 1.0, -1.0]


def test_frames_without_maps_get_zeros_and_a_flag(ego_set: tuple[Path, Path]) -> None:
    root, listing = ego_set
    for slot in range(1, 5):
        (root / SCNN.format(stem="a", slot=slot)).unlink()
    sample = CULaneDataset(root, listing, PRE, soft_targets=SCNN)[0]
    assert sample["has_soft"].item() == 0.0 and not sample["soft"].any()


def test_real_scnn_maps_mark_the_ego_lines(real_data: Path, tmp_path: Path) -> None:
    """On the real drive of group 8, SCNN's slot 2/3 maps lie on the labelled ego lines."""
    root = real_data / "culane_ego" / "czming__RONELD-Lane-Detection" / "example"
    listing = tmp_path / "ego.txt"
    listing.write_text("/00000.jpg\n/00030.jpg\n")
    data = CULaneDataset(root, listing, PreprocessConfig(width=400, height=144, crop_top=0.35), soft_targets=SCNN)
    for i in range(2):
        sample = data[i]
        seg, soft = sample["seg"].numpy(), sample["soft"].numpy()
        for slot in (1, 2):  # 0-based slots of the ego lines
            on_line = seg == slot + 1
            assert on_line.sum() > 50
            assert soft[slot + 1][on_line].mean() > 0.3 > soft[slot + 1][~on_line].mean()
