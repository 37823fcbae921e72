"""Augmentations applied to image and target together (lane_sad_core.data.augment)."""

from __future__ import annotations

import numpy as np
import pytest

from lane_sad_core.data.augment import (
    IGNORE_INDEX,
    AugmentConfig,
    augment_sample,
    flip_target,
    sample_generator,
)


def _sample(h: int = 40, w: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    seg = np.zeros((h, w), np.uint8)
    seg[:, 10:13] = 1  # slot 0 on the left
    seg[:, 40:43] = 3  # slot 2
    return image, seg, np.array([1.0, 0.0, 1.0, 0.0], np.float32)


def test_flip_target_mirrors_and_swaps_slots() -> None:
    _, seg, exist = _sample()
    seg[0, 0] = IGNORE_INDEX
    flipped, ex = flip_target(seg, exist, 4)
    assert flipped[5, 63 - 11] == 4  # slot 0 -> slot 3 (value 1 -> 4)
    assert flipped[5, 63 - 41] == 2  # slot 2 -> slot 1
    assert flipped[0, 63] == IGNORE_INDEX
    assert ex.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_everything_off_returns_the_input_unchanged() -> None:
    image, seg, exist = _sample()
    out_img, out_seg, out_exist = augment_sample(
        image, seg, exist, AugmentConfig.identity(), np.random.default_rng(1), 4
    )
    assert np.array_equal(out_img, image)
    assert np.array_equal(out_seg, seg)
    assert np.array_equal(out_exist, exist)


def test_flip_moves_image_and_target_together() -> None:
    image, seg, exist = _sample()
    cfg = AugmentConfig.identity(hflip_prob=1.0)
    out_img, out_seg, out_exist = augment_sample(image, seg, exist, cfg, np.random.default_rng(1), 4)
    assert np.array_equal(out_img, image[:, ::-1])
    assert set(np.unique(out_seg[:, 63 - 12])) == {4}
    assert out_exist.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_shift_moves_lanes_and_marks_new_border_as_ignore() -> None:
    image, seg, exist = _sample()
    cfg = AugmentConfig.identity(max_shift=0.2)
    rng = sample_generator(AugmentConfig(seed=3), 0, 0)
    _, out_seg, _ = augment_sample(image, seg, exist, cfg, rng, 4)
    lane_cols = np.flatnonzero(out_seg[20] == 1)
    assert len(lane_cols) == 3 and lane_cols[0] != 10  # the lane moved with the image
    assert (out_seg == IGNORE_INDEX).any()


def test_photometric_jitter_changes_pixels_not_target() -> None:
    image, seg, exist = _sample()
    cfg = AugmentConfig.identity(brightness=0.5, contrast=0.5, noise_prob=1.0)
    out_img, out_seg, _ = augment_sample(image, seg, exist, cfg, np.random.default_rng(2), 4)
    assert not np.array_equal(out_img, image)
    assert np.array_equal(out_seg, seg)


@pytest.mark.parametrize(("epoch", "index", "same"), [(0, 5, True), (1, 5, False), (0, 6, False)])
def test_generator_depends_on_seed_epoch_and_index(epoch: int, index: int, same: bool) -> None:
    image, seg, exist = _sample()
    cfg = AugmentConfig(seed=7)
    a = augment_sample(image, seg, exist, cfg, sample_generator(cfg, 0, 5), 4)[0]
    b = augment_sample(image, seg, exist, cfg, sample_generator(cfg, epoch, index), 4)[0]
    assert np.array_equal(a, b) == same
