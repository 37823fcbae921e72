"""What every source reader yields: frames with their lanes as the source states them.

Readers only parse; resampling to CULane's rows, slot placement, checks and writing are
done once for all formats by :mod:`lane_sad_core.data.convert.writer`. Anything a reader
leaves out (a curb, a crosswalk, a polygon) goes into the frame's ``notes`` so that the
report says so: nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SourceLane:
    """One lane line as labelled.

    Attributes:
        points: (N, 2) float (x, y) in source image pixels, in the order drawn.
        name: how the report names the lane (label, category, track id).
        slot: 0-based slot (left to right) when the source states it, else None.
    """

    points: np.ndarray
    name: str
    slot: int | None = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)


@dataclass
class SourceFrame:
    """One labelled frame.

    Attributes:
        key: the image's path in the output tree below ``frames/`` (keeps the source's
            relative path, so frames of different folders never collide).
        image: the source image file, or None when the pixels come in ``image_bytes``.
        lanes: the lane lines.
        image_bytes: encoded image embedded in the label file (LabelMe ``imageData``).
        size: (height, width) the label file declares, checked against the image.
        notes: what the reader left out of this frame, and why.
        problem: set when the frame cannot be converted at all (it is reported and skipped).
    """

    key: str
    image: Path | None
    lanes: list[SourceLane] = field(default_factory=list)
    image_bytes: bytes | None = None
    size: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class ReaderOptions:
    """Options the readers share (each uses the ones that apply to its format).

    Attributes:
        images: folder the label files' image paths are relative to, when not the default.
        labels: folder of the label files, when they are not beside the images.
        lane_labels: label names that are lanes (CVAT, LabelMe); empty: every line shape.
        keep_curbs: keep road curbs / curbsides as lanes (CULane labels painted lines only).
        mask_kind: ``instance`` (one grey level per lane), ``binary`` (lanes found by
            tracking runs of lane pixels row by row), or ``auto`` (instance when a mask has
            more than one lane level).
        num_slots: the output's slots, for sources whose slots count from the ego lane
            (OpenLane's ``attribute``).
    """

    images: Path | None = None
    labels: Path | None = None
    lane_labels: tuple[str, ...] = ()
    keep_curbs: bool = False
    mask_kind: str = "auto"
    num_slots: int = 4
