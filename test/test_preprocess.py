"""Preprocessing: the network input, and coordinate maps that invert each other."""

from __future__ import annotations

import cv2
import numpy as np

from lane_sad_core.data.preprocess import (
    PreprocessConfig,
    network_to_source,
    preprocess,
    source_to_network,
)
from lane_sad_core.plain import from_plain, to_plain


def test_input_shape_and_normalisation() -> None:
    cfg = PreprocessConfig(width=80, height=32, crop_top=0.25)
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :, 2] = 255  # pure red in BGR
    x = preprocess(img, cfg)
    assert x.shape == (3, 32, 80) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], (1 - cfg.mean[0]) / cfg.std[0], rtol=1e-6)  # R channel first
    np.testing.assert_allclose(x[2], (0 - cfg.mean[2]) / cfg.std[2], rtol=1e-6)


def test_crop_removes_the_top_rows() -> None:
    cfg = PreprocessConfig(width=10, height=10, crop_top=0.5)
    img = np.zeros((100, 10, 3), np.uint8)
    img[:50] = 255  # only the cropped half is bright
    assert preprocess(img, cfg)[0].max() < 0  # nothing bright left


def test_coordinate_maps_are_inverse() -> None:
    cfg = PreprocessConfig(width=800, height=288, crop_top=0.3)
    pts = np.array([[0.0, 590.0], [820.0, 400.0], [1639.0, 177.0]])
    net = source_to_network(pts, (590, 1640), cfg)
    assert np.allclose(net[0], [0.0, 288.0])
    np.testing.assert_allclose(network_to_source(net, (590, 1640), cfg), pts, atol=1e-9)


def test_config_round_trips_through_plain_dict() -> None:
    cfg = PreprocessConfig(width=640, height=368, crop_top=0.1)
    assert from_plain(PreprocessConfig, to_plain(cfg)) == cfg


def test_every_layout_reads_the_same_colours_without_converting_first() -> None:
    """RGB, BGRA, RGBA and grey frames give what their BGR conversion gives (colours picked after resizing)."""
    cfg = PreprocessConfig(width=40, height=16, crop_top=0.2)
    bgr = np.random.default_rng(0).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    want = preprocess(bgr, cfg)
    assert np.array_equal(preprocess(bgr[..., ::-1], cfg, "rgb"), want)  # a strided view, as from a buffer
    assert np.array_equal(preprocess(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), cfg, "bgra"), want)
    assert np.array_equal(preprocess(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA), cfg, "rgba"), want)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    as_bgr = preprocess(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), cfg)
    assert np.array_equal(preprocess(grey, cfg, "gray"), as_bgr)
    assert np.array_equal(preprocess(grey[..., None], cfg, "gray"), as_bgr)
    batch = np.zeros((2, 3, 16, 40), np.float32)
    assert np.shares_memory(preprocess(bgr, cfg, out=batch[1]), batch) and np.array_equal(batch[1], want)
