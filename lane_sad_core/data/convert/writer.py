"""Write converted frames as a CULane tree that ``CULaneDataset`` and ``lane-sad train`` read.

Layout (``<key>`` is the source image's relative path, so the source's folders are kept)::

    frames/<key>                              the image, copied (re-encoded to JPEG only
                                              when OpenCV cannot read its format, or asked)
    frames/<key stem>.lines.txt               lanes left to right, x y pairs from the bottom up
    laneseg_label_w16/frames/<key stem>.png   slot mask: 0 background, 1..K the slot
    list/all_gt.txt, train_gt.txt, val_gt.txt, test_gt.txt   /image /mask e1 .. eK
    list/all.txt, train.txt, val.txt, test.txt              /image
    convert_report.json                       settings, counts, every frame's issues

Masks are drawn 16 px wide at CULane's 1640 px, scaled with the frame width, so a lane is
about 8 px wide at the network's 800 px whatever the source size. Existence flags carry the
slots, so the loader needs no rule of its own. Frames are split into train/val/test in
blocks of consecutive keys (neighbouring frames of a drive stay in one split).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.convert.frames import SourceFrame
from lane_sad_core.data.convert.prepare import LaneRules, prepare_lanes
from lane_sad_core.data.convert.report import ConvertReport, FrameResult
from lane_sad_core.data.formats import CulaneListEntry, format_culane_lines, write_culane_list
from lane_sad_core.data.imagesize import image_size
from lane_sad_core.data.raster import rasterize_lanes
from lane_sad_core.errors import ConfigError

FRAMES_DIR = "frames"
MASKS_DIR = "laneseg_label_w16"
SPLITS = ("train", "val", "test")
_COPIED = (".jpg", ".jpeg", ".png")
_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95]


@dataclass(frozen=True)
class WriteSettings:
    """How the tree is written.

    Attributes:
        rules: rows, length and slot rules for the lanes.
        split: fractions of (train, val, test).
        mask_width: mask line width in source pixels; 0 means 16 px at 1640 px wide,
            scaled with the frame width.
        jpeg: re-encode every image to JPEG (quality 95) instead of copying it.
        unknown_slots: 0-based slots the labels never state (an ego-lane-only set): their
            flag is ``?`` (unknown, see :data:`~lane_sad_core.data.formats.UNKNOWN_FLAG`)
            instead of 0 where the frame has no lane in them.
    """

    rules: LaneRules = field(default_factory=LaneRules)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    mask_width: int = 0
    jpeg: bool = False
    unknown_slots: tuple[int, ...] = ()


class CulaneTreeWriter:
    """Writes frames one at a time, then the lists and the report."""

    def __init__(self, out: Path, settings: WriteSettings) -> None:
        self.out = Path(out)
        self.settings = settings
        self._entries: list[CulaneListEntry] = []
        self._results: list[FrameResult] = []
        self._keys: set[str] = set()

    def add(self, frame: SourceFrame) -> FrameResult:
        """Convert and write one frame (or record why not); returns its result."""
        result = FrameResult(frame.key, issues=list(frame.notes))
        self._results.append(result)
        if frame.problem:
            result.skipped = frame.problem
            return result
        if frame.key in self._keys:
            result.skipped = "a frame with this image was converted already (duplicate label)"
            return result
        self._keys.add(frame.key)
        try:
            image_rel, height, width = self._image(frame)
        except (OSError, ValueError) as exc:
            result.skipped = f"image: {exc}"
            return result
        if frame.size is not None and frame.size != (height, width):
            result.skipped = f"the labels are for {frame.size[1]}x{frame.size[0]}, the image is {width}x{height}"
            (self.out / image_rel).unlink()
            return result
        lanes, issues = prepare_lanes(frame.lanes, width, height, self.settings.rules)
        result.issues.extend(issues)
        stem = image_rel.rsplit(".", 1)[0]
        (self.out / f"{stem}.lines.txt").write_text(format_culane_lines(lanes))
        mask_rel = f"{MASKS_DIR}/{stem}.png"
        mask = rasterize_lanes(lanes, (height, width), self._mask_width(width))
        (self.out / mask_rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(self.out / mask_rel), mask, _PNG_FAST)
        result.exist = self._flags({lane.slot for lane in lanes})
        self._entries.append(CulaneListEntry(image_rel, mask_rel, result.exist))
        return result

    def _flags(self, slots: set[int]) -> tuple[int, ...]:
        """Existence flags: 1 with a lane, -1 (unknown) in an ``unknown_slots`` slot without one, else 0."""
        unknown = self.settings.unknown_slots
        return tuple(1 if k in slots else -1 if k in unknown else 0 for k in range(self.settings.rules.num_slots))

    def _mask_width(self, width: int) -> int:
        return self.settings.mask_width or max(1, round(16 * width / 1640))

    def _image(self, frame: SourceFrame) -> tuple[str, int, int]:
        """Put the frame's image into the tree; returns its relative path and size."""
        key = frame.key
        if frame.image_bytes is not None:
            return self._embedded(frame.image_bytes, key)
        assert frame.image is not None  # a frame without bytes names its image file
        if not frame.image.is_file():
            raise FileNotFoundError(f"missing {frame.image}")
        if frame.image.suffix.lower() in _COPIED and not self.settings.jpeg:
            height, width = image_size(frame.image)
            rel = f"{FRAMES_DIR}/{key}"
            (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(frame.image, self.out / rel)
            return rel, height, width
        pixels = cv2.imread(str(frame.image), cv2.IMREAD_COLOR)
        if pixels is None:
            raise ValueError(f"OpenCV cannot read {frame.image}")
        return self._encode(pixels, key), *pixels.shape[:2]

    def _embedded(self, data: bytes, key: str) -> tuple[str, int, int]:
        """An image embedded in the label file: its JPEG or PNG bytes as they are."""
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            raise ValueError("the embedded image data does not decode")
        suffix = ".jpg" if data[:2] == b"\xff\xd8" else ".png" if data[:4] == b"\x89PNG" else None
        if suffix is None or self.settings.jpeg:
            return self._encode(pixels, key), *pixels.shape[:2]
        rel = f"{FRAMES_DIR}/{key.rsplit('.', 1)[0]}{suffix}"
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.out / rel).write_bytes(data)
        return rel, *pixels.shape[:2]

    def _encode(self, pixels: np.ndarray, key: str) -> str:
        rel = f"{FRAMES_DIR}/{key.rsplit('.', 1)[0]}.jpg"
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(self.out / rel), pixels, _JPEG):
            raise OSError(f"cannot write {self.out / rel}")
        return rel

    def finish(self, source_format: str, source: Path) -> ConvertReport:
        """Write the list files; returns the report (the caller writes and prints it)."""
        entries = sorted(self._entries, key=lambda e: e.image)
        write_culane_list(self.out / "list" / "all_gt.txt", entries)
        write_culane_list(self.out / "list" / "all.txt", [CulaneListEntry(e.image) for e in entries])
        counts = {}
        for name, chunk in zip(SPLITS, split_blocks(entries, self.settings.split), strict=True):
            write_culane_list(self.out / "list" / f"{name}_gt.txt", chunk)
            write_culane_list(self.out / "list" / f"{name}.txt", [CulaneListEntry(e.image) for e in chunk])
            counts[name] = len(chunk)
        settings = asdict(self.settings)
        return ConvertReport(source_format, str(source), settings, self._results, counts)


def split_blocks(entries: Sequence[CulaneListEntry], split: tuple[float, float, float]) -> list[list[CulaneListEntry]]:
    """Consecutive blocks of ``entries`` with the ``split`` fractions (rounded; test takes the rest)."""
    if len(split) != 3 or min(split) < 0 or sum(split) <= 0:
        raise ConfigError(f"split must be three non-negative fractions with a positive sum, got {split}")
    total = sum(split)
    n_train = round(len(entries) * split[0] / total)
    n_val = min(len(entries) - n_train, round(len(entries) * split[1] / total))
    return [list(entries[:n_train]), list(entries[n_train : n_train + n_val]), list(entries[n_train + n_val :])]


def convert_frames(
    frames: Iterable[SourceFrame], out: Path, settings: WriteSettings, source_format: str, source: Path
) -> ConvertReport:
    """Write every frame, then the lists; returns the report."""
    writer = CulaneTreeWriter(out, settings)
    for frame in frames:
        writer.add(frame)
    return writer.finish(source_format, source)
