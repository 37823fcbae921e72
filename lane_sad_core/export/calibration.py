"""INT8 calibration input: real images through the project's own preprocessing.

TensorRT's entropy calibrator chooses each tensor's INT8 range from the activations these
batches produce, so they must be prepared exactly as the detector prepares frames (same
crop, resize and normalisation, read from the model's metadata); a few hundred frames of
the target camera are the usual amount.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.preprocess import PreprocessConfig, preprocess
from lane_sad_core.export.errors import ExportError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def calibration_images(folder: str | Path, limit: int) -> list[Path]:
    """Up to ``limit`` images under ``folder`` (recursive), spread evenly over the sorted list.

    Spreading, rather than taking the first ``limit``, keeps a folder of several clips
    from being represented by its first clip only.

    Raises:
        ExportError: the folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"calibration folder {folder} does not exist")
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ExportError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder} for INT8 calibration")
    if len(images) <= limit:
        return images
    picks = np.linspace(0, len(images) - 1, limit).round().astype(int)
    return [images[i] for i in picks]


def calibration_batches(images: list[Path], cfg: PreprocessConfig, batch_size: int) -> Iterator[np.ndarray]:
    """(batch_size, 3, H, W) float32 network inputs; a last incomplete batch is dropped.

    Raises:
        ExportError: fewer images than one batch, or an image cannot be read (named).
    """
    if len(images) < batch_size:
        raise ExportError(f"{len(images)} calibration image(s) are fewer than one batch of {batch_size}")
    for start in range(0, len(images) - batch_size + 1, batch_size):
        batch = []
        for path in images[start : start + batch_size]:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ExportError(f"cannot read calibration image {path}")
            batch.append(preprocess(image, cfg))
        yield np.stack(batch)
