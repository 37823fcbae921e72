"""Image sizes from headers (lane_sad_core.data.imagesize)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lane_sad_core.data.imagesize import image_size


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
def test_size_matches_decoded_image(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"img{suffix}"
    cv2.imwrite(str(path), np.zeros((37, 53, 3), np.uint8))
    assert image_size(path) == (37, 53)


def test_progressive_jpeg_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    cv2.imwrite(str(path), np.zeros((21, 34, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert image_size(path) == (21, 34)


def test_not_an_image_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(b"not an image")
    with pytest.raises(FileNotFoundError, match=r"x\.jpg"):
        image_size(path)
