"""INT8 calibration input: which frames, prepared exactly as the detector prepares them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lane_sad_core.data.preprocess import PreprocessConfig, preprocess
from lane_sad_core.export.calibration import calibration_batches, calibration_images
from lane_sad_core.export.errors import ExportError

CFG = PreprocessConfig(width=32, height=16, crop_top=0.5)


def write_frames(folder, count: int) -> list:
    paths = []
    rng = np.random.default_rng(0)
    for i in range(count):
        path = folder / f"clip{i % 2}" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
        paths.append(path)
    (folder / "notes.txt").write_text("not an image")
    return sorted(paths)


def test_images_are_spread_over_the_folder(tmp_path):
    paths = write_frames(tmp_path, 10)
    assert calibration_images(tmp_path, 100) == paths
    picked = calibration_images(tmp_path, 4)
    assert picked == [paths[0], paths[3], paths[6], paths[9]]  # linspace(0, 9, 4) rounded


def test_batches_are_the_detectors_preprocessing(tmp_path):
    paths = write_frames(tmp_path, 5)
    batches = list(calibration_batches(paths, CFG, 2))
    assert [b.shape for b in batches] == [(2, 3, 16, 32)] * 2  # the fifth frame is dropped
    expected = preprocess(cv2.imread(str(paths[2])), CFG)
    assert batches[1].dtype == np.float32 and np.array_equal(batches[1][0], expected)


def test_empty_or_missing_folder_is_an_error(tmp_path):
    with pytest.raises(ExportError, match="no images .* under"):
        calibration_images(tmp_path, 10)
    with pytest.raises(ExportError, match="calibration folder .*nope does not exist"):
        calibration_images(tmp_path / "nope", 10)


def test_unreadable_frame_and_too_few_frames_are_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ExportError, match="cannot read calibration image .*broken.jpg"):
        list(calibration_batches([bad], CFG, 1))
    with pytest.raises(ExportError, match="1 calibration image\\(s\\) are fewer than one batch of 4"):
        list(calibration_batches([bad], CFG, 4))
