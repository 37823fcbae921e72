"""LaneNet's training layout: ``image/``, ``gt_binary_image/`` and ``gt_instance_image/``
with the same file names (``0000.png`` ...), as LaneNet's TuSimple generator writes them.

INPUT is the folder holding the three. Lanes come from the instance mask (one grey level
per lane); the binary mask is only compared with it, and a frame whose two masks disagree
(lane pixels IoU below 0.9) says so in its report lines. Frames are paired by file name and
LaneNet's ``train.txt`` / ``val.txt`` are not read: their paths start with the author's
``ROOT_PATH``, and the published sample's ``train.txt`` pairs ``image/0003.png`` with
``gt_binary_image/0000.png``. Without ``gt_instance_image/`` the binary masks are tracked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame
from lane_sad_core.data.convert.masks import find_mask, mask_frame, read_mask
from lane_sad_core.data.convert.paths import find_images, relative_key
from lane_sad_core.errors import LabelError

AGREEMENT_IOU = 0.9


def masks_agree(binary: Path, instance: Path) -> float:
    """IoU of the lane pixels of a binary and an instance mask of one frame."""
    a, b = read_mask(binary) > 127, read_mask(instance) > 0
    if a.shape != b.shape:
        return 0.0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _frame(image: Path, source: Path) -> SourceFrame:
    key = relative_key(image, source / "image")
    instance = find_mask(image, source / "image", source / "gt_instance_image")
    binary = find_mask(image, source / "image", source / "gt_binary_image")
    mask, kind = (instance, "instance") if instance is not None else (binary, "binary")
    if mask is None:
        return SourceFrame(key, image, problem="no mask in gt_instance_image/ or gt_binary_image/")
    frame = mask_frame(key, image, mask, kind)
    if instance is not None and binary is not None:
        iou = masks_agree(binary, instance)
        if iou < AGREEMENT_IOU:
            frame.notes.append(f"binary and instance masks disagree (IoU {iou:.2f}); lanes are from the instance mask")
    return frame


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per image in ``source/image``."""
    if not (source / "image").is_dir():
        raise LabelError(f"{source}: no image/ folder (LaneNet layout: image/, gt_instance_image/, gt_binary_image/)")
    for image in find_images(source / "image"):
        yield _frame(image, source)
