"""Image + label mask pairs: ``--from masks IMAGES --labels MASKS``, and the shared step
that turns one mask into lane lines for the LaneNet and tvtLANE layouts.

A mask is paired with the image at the same relative path below ``--labels`` with any
image suffix (``a/b.jpg`` -> ``a/b.png``). ``--mask-kind instance`` reads one lane per grey
level, ``binary`` tracks lane pixels row by row
(:mod:`lane_sad_core.data.convert.mask_lanes`); ``auto`` (the default) takes a PNG with
two or more grey levels as an instance mask and anything else (one level, or a JPEG, whose
compression invents levels) as binary. Masks give no slots; lanes are placed by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.data.convert.mask_lanes import binary_lanes, instance_lanes
from lane_sad_core.data.convert.paths import IMAGE_SUFFIXES, find_images, relative_key
from lane_sad_core.errors import ConfigError

MASK_KINDS = ("auto", "instance", "binary")


def read_mask(path: Path) -> np.ndarray:
    """A mask as a (H, W) uint8 array (colour masks reduced to grey)."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"{path} is not a readable image")
    return mask


def mask_kind(mask: np.ndarray, path: Path, kind: str) -> str:
    """``instance`` or ``binary`` for this mask under ``--mask-kind kind``."""
    if kind != "auto":
        return kind
    if path.suffix.lower() in (".jpg", ".jpeg"):
        return "binary"
    return "instance" if len(np.unique(mask[mask > 0])) >= 2 else "binary"


def mask_frame(key: str, image: Path, mask_path: Path, kind: str) -> SourceFrame:
    """The frame of ``image`` with lanes read from ``mask_path``."""
    try:
        mask = read_mask(mask_path)
    except ValueError as exc:
        return SourceFrame(key, image, problem=str(exc))
    notes = []
    if mask_kind(mask, mask_path, kind) == "instance":
        found, specks = instance_lanes(mask)
        lanes = [SourceLane(points, f"grey level {level}") for level, points in found]
    else:
        tracks, specks = binary_lanes(mask)
        lanes = [SourceLane(points, f"track {i + 1}") for i, points in enumerate(tracks)]
    if specks:
        notes.append(f"ignored {specks} speck(s) of mask pixels too small to be lanes")
    return SourceFrame(key, image, lanes, size=mask.shape[:2], notes=notes)


def find_mask(image: Path, root: Path, labels: Path) -> Path | None:
    """The mask of ``image``: same relative path below ``labels``, any image suffix."""
    rel = image.relative_to(root)
    return next(
        (p for s in IMAGE_SUFFIXES if (p := labels / rel.parent / (image.stem + s)).is_file()),
        None,
    )


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per image below ``source`` (reported and skipped when it has no mask)."""
    if options.labels is None:
        raise ConfigError("--from masks needs --labels: the folder of the masks")
    if options.mask_kind not in MASK_KINDS:
        raise ConfigError(f"--mask-kind must be one of {', '.join(MASK_KINDS)}, got {options.mask_kind!r}")
    for image in find_images(source):
        key = relative_key(image, source)
        mask = find_mask(image, source, options.labels)
        if mask is None:
            yield SourceFrame(key, image, problem=f"no mask {image.stem}.* in {options.labels}")
        else:
            yield mask_frame(key, image, mask, options.mask_kind)
