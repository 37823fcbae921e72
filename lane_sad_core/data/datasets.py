"""PyTorch datasets over CULane and TuSimple trees, real or synthetic, as they are on disk.

Both return the same sample dict, built the way the ENet-SAD training code builds it:

* ``"image"``: float32 (3, H, W), via the shared
  :func:`~lane_sad_core.data.preprocess.resize_for_network` and
  :func:`~lane_sad_core.data.preprocess.normalize`;
* ``"seg"``: int64 (H, W), 0 background, 1..K the lane slot, 255 ignore (pixels that an
  augmentation brought in from outside the frame);
* ``"exist"``: float32 (K,), 1 where the slot's lane is labelled, 0 where it is absent,
  -1 where the labels do not say (partial labels: ``?`` flags in a CULane list);
* ``"soft"`` and ``"has_soft"``, only when the dataset reads a teacher's maps: float32
  (K + 1, H, W) class probabilities at network size, and whether this frame has them;
* ``"index"``: the sample index.

Targets: CULane's ``laneseg_label_w16`` masks are used when the list names them and they
are on disk (resized with nearest neighbour, as the official code does); otherwise lanes
are drawn at network size with the source line width (16 px by default) scaled to it,
which matches those masks (see :mod:`lane_sad_core.data.raster`).

Ground truth for scoring is :meth:`LaneDataset.lanes`: polylines in source pixels with
their slots, never augmented.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from lane_sad_core.data.augment import AugmentConfig, augment_with_soft, sample_generator
from lane_sad_core.data.formats import CulaneListEntry, read_culane_lines, read_culane_list, read_tusimple
from lane_sad_core.data.imagesize import image_size
from lane_sad_core.data.preprocess import (
    PreprocessConfig,
    crop_rows,
    normalize,
    resize_for_network,
    source_to_network,
)
from lane_sad_core.data.raster import rasterize_lanes, scaled_thickness
from lane_sad_core.data.slots import assign_slots, bottom_x
from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane

# Network input sizes of the paper (width, height).
CULANE_INPUT = (800, 288)
TUSIMPLE_INPUT = (640, 368)
# Line width of CULane's official masks, in source pixels (laneseg_label_w16).
CULANE_LINE_WIDTH = 16.0
CULANE_SLOTS = 4  # slots of the CULane lists when a list states none
META_FILE = "meta.json"
_LOG = logging.getLogger(__name__)


def culane_preprocess() -> PreprocessConfig:
    """The paper's CULane input: the whole 1640x590 frame resized to 800x288."""
    return PreprocessConfig(width=CULANE_INPUT[0], height=CULANE_INPUT[1])


def tusimple_preprocess() -> PreprocessConfig:
    """The paper's TuSimple input: the whole 1280x720 frame resized to 640x368."""
    return PreprocessConfig(width=TUSIMPLE_INPUT[0], height=TUSIMPLE_INPUT[1])


def read_image(path: Path) -> np.ndarray:
    """Decode a colour image (BGR uint8) or raise FileNotFoundError naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(2, "missing or unreadable image", str(path))
    return image


def _meta_categories(root: Path) -> dict[str, str]:
    """Per-frame categories a synthetic tree records in ``meta.json`` (empty if none)."""
    meta = root / META_FILE
    if not meta.is_file():
        return {}
    try:
        return dict(json.loads(meta.read_text()).get("categories", {}))
    except json.JSONDecodeError as exc:
        raise LabelError(f"{meta}: invalid JSON ({exc.msg})") from None


class LaneDataset(Dataset, ABC):
    """What CULane and TuSimple share: preprocessing, targets, augmentation, epochs.

    Subclasses set ``root`` (the data set's folder, which label files name images
    relative to), fill ``_images`` (absolute paths) and implement :meth:`lanes`.
    """

    root: Path

    def __init__(
        self,
        preprocess: PreprocessConfig,
        augment: AugmentConfig | None,
        num_slots: int,
        line_width: float,
        soft_targets: str = "",
    ) -> None:
        self.preprocess = preprocess
        self.augment = augment
        self.num_slots = num_slots
        self.line_width = line_width
        self.soft_targets = soft_targets
        self.epoch = 0
        self._images: list[Path] = []
        self._categories: dict[str, str] = {}
        self._sizes: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._images)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations ``__getitem__`` replays."""
        self.epoch = int(epoch)

    def image_path(self, i: int) -> Path:
        """Absolute path of sample ``i``'s image."""
        return self._images[i]

    def source_size(self, i: int) -> tuple[int, int]:
        """(height, width) of sample ``i``'s source image, read from its header."""
        if i not in self._sizes:
            self._sizes[i] = image_size(self._images[i])
        return self._sizes[i]

    def category(self, i: int) -> str:
        """Scene category of sample ``i`` (e.g. ``night``), ``"unknown"`` when not recorded."""
        return self._categories.get(self._category_key(i), "unknown")

    @abstractmethod
    def lanes(self, i: int) -> list[Lane]:
        """Ground-truth lanes of sample ``i`` in source pixels, with slots set."""

    @abstractmethod
    def _category_key(self, i: int) -> str:
        """The key of sample ``i`` in the category tables (its path as the labels write it)."""

    def _mask(self, i: int) -> np.ndarray | None:
        """A stored slot mask at source size, or None to draw one from the lanes."""
        return None

    def _exist(self, i: int, lanes: Sequence[Lane]) -> np.ndarray:
        exist = np.zeros(self.num_slots, dtype=np.float32)
        for lane in lanes:
            if 0 <= lane.slot < self.num_slots:
                exist[lane.slot] = 1.0
        return exist

    def target(self, i: int, src_shape: tuple[int, int]) -> np.ndarray:
        """Sample ``i``'s uint8 slot map at network size, before augmentation."""
        cfg = self.preprocess
        mask = self._mask(i)
        if mask is not None:
            cropped = mask[crop_rows(mask.shape[0], cfg) :]
            return cv2.resize(cropped, (cfg.width, cfg.height), interpolation=cv2.INTER_NEAREST)
        top = crop_rows(src_shape[0], cfg)
        sx, sy = cfg.width / src_shape[1], cfg.height / (src_shape[0] - top)
        thickness = scaled_thickness(self.line_width, sx, sy)
        mapped = [Lane(source_to_network(lane.points, src_shape, cfg), lane.slot) for lane in self.lanes(i)]
        return rasterize_lanes(mapped, (cfg.height, cfg.width), thickness)

    def soft_maps(self, i: int) -> np.ndarray | None:
        """A teacher's (K + 1, H, W) class probabilities for sample ``i`` at network size.

        Read from one greyscale PNG per slot beside the image, named by the
        ``soft_targets`` pattern (``{stem}``, 1-based ``{slot}``; SCNN writes
        ``{stem}_{slot}_avg.png``), 0-255 for probability 0-1. A map covers the whole
        frame at any scale, so it is cropped and resized as the image is. Background is
        what the lanes leave. None when the pattern is unset or a slot's file is absent.
        """
        if not self.soft_targets:
            return None
        image = self._images[i]
        paths = [image.with_name(self.soft_targets.format(stem=image.stem, slot=k + 1)) for k in range(self.num_slots)]
        if not all(p.is_file() for p in paths):
            return None
        cfg = self.preprocess
        lanes = []
        for path in paths:
            prob = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if prob is None:
                raise LabelError(f"{path}: not a readable probability map")
            cropped = prob[crop_rows(prob.shape[0], cfg) :]
            lanes.append(cv2.resize(cropped, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA) / 255.0)
        stacked = np.stack(lanes).astype(np.float32)
        soft = np.concatenate([np.clip(1.0 - stacked.sum(axis=0, keepdims=True), 0.0, 1.0), stacked])
        return soft / np.maximum(soft.sum(axis=0, keepdims=True), 1e-6)

    def __getitem__(self, i: int) -> dict:
        image = read_image(self._images[i])
        self._sizes[i] = image.shape[:2]
        resized = resize_for_network(image, self.preprocess)
        seg = self.target(i, image.shape[:2])
        exist = self._exist(i, self.lanes(i))
        soft = self.soft_maps(i)
        has_soft = soft is not None
        if self.soft_targets and soft is None:
            soft = np.zeros((self.num_slots + 1, *seg.shape), dtype=np.float32)
        if self.augment is not None:
            r, g, b = self.preprocess.mean
            fill = (255.0 * b, 255.0 * g, 255.0 * r)
            rng = sample_generator(self.augment, self.epoch, i)
            resized, seg, exist, soft = augment_with_soft(
                resized, seg, exist, soft, self.augment, rng, self.num_slots, fill
            )
        sample = {
            "image": torch.from_numpy(normalize(resized, self.preprocess)),
            "seg": torch.from_numpy(seg.astype(np.int64)),
            "exist": torch.from_numpy(np.ascontiguousarray(exist, dtype=np.float32)),
            "index": i,
        }
        if soft is not None:
            sample["soft"] = torch.from_numpy(np.ascontiguousarray(soft, dtype=np.float32))
            sample["has_soft"] = torch.tensor(float(has_soft))
        return sample


class CULaneDataset(LaneDataset):
    """A CULane tree: ``list/*.txt`` + ``.lines.txt`` beside each image (+ optional masks).

    Args:
        root: dataset root (the folder holding ``driver_*`` and ``list``).
        list_file: a list file, absolute or relative to ``root``, or several read one after
            the other; lines may carry a mask path and existence flags (``train_gt.txt``)
            or only the image (``test.txt``).
        preprocess: network input definition; the paper's 800x288 by default.
        augment: training augmentation, None for evaluation.
        num_slots: lane slots (CULane: 4); None: as many as the lists' existence flags
            (4 for lists without flags), for scoring, where labels need not match the model.
        line_width: target line width in source pixels when drawing from ``.lines.txt``.
        soft_targets: file-name pattern of a teacher's per-slot maps beside each image
            (see :meth:`LaneDataset.soft_maps`); empty for none.
    """

    def __init__(
        self,
        root: str | Path,
        list_file: str | Path | Sequence[str | Path],
        preprocess: PreprocessConfig | None = None,
        augment: AugmentConfig | None = None,
        num_slots: int | None = 4,
        line_width: float = CULANE_LINE_WIDTH,
        soft_targets: str = "",
    ) -> None:
        super().__init__(
            preprocess or culane_preprocess(), augment, num_slots or CULANE_SLOTS, line_width, soft_targets
        )
        self.root = Path(root)
        names = [list_file] if isinstance(list_file, (str, Path)) else list(list_file)
        self.list_files = [Path(n) if Path(n).is_absolute() else self.root / n for n in names]
        self.list_file = self.list_files[0]
        self.entries: list[CulaneListEntry] = []
        self.num_slots = self._read_lists(num_slots)
        self._images = [self.root / e.image for e in self.entries]
        self._categories = {**_meta_categories(self.root), **self._split_categories()}
        self._warned_masks = False

    def _read_lists(self, num_slots: int | None) -> int:
        """Fill ``entries`` from the list files; returns the slot count every line's flags must have."""
        for listing in self.list_files:
            entries = read_culane_list(listing)
            for entry in entries:
                if entry.exist is None:
                    continue
                num_slots = num_slots or len(entry.exist)
                if len(entry.exist) != num_slots:
                    raise LabelError(
                        f"{listing}: {entry.image} has {len(entry.exist)} existence flags where num_slots={num_slots}: "
                        "the list's lane slots must match the model's (data.num_slots when training)"
                    )
            self.entries += entries
        return num_slots or CULANE_SLOTS

    def _split_categories(self) -> dict[str, str]:
        """Image -> category from ``list/test_split/testN_<category>.txt``."""
        out: dict[str, str] = {}
        for path in sorted((self.root / "list" / "test_split").glob("test*_*.txt")):
            name = path.stem.split("_", 1)[1]
            for entry in read_culane_list(path):
                out[entry.image] = name
        return out

    def _category_key(self, i: int) -> str:
        return self.entries[i].image

    def label_path(self, i: int) -> Path:
        """The ``.lines.txt`` file of sample ``i``."""
        return self._images[i].with_suffix(".lines.txt")

    def lanes(self, i: int) -> list[Lane]:
        """Lanes of ``.lines.txt``; slots from the existence flags when the list has them.

        The official lists flag the slots whose lane survived SCNN's label generator, in
        left-to-right order; when the counts disagree, or there are no flags, slots come
        from the bottom-x rule of :func:`~lane_sad_core.data.slots.assign_slots`.
        """
        path = self.label_path(i)
        if not path.is_file():
            raise FileNotFoundError(2, "missing CULane label file", str(path))
        lanes = [lane for lane in read_culane_lines(path) if len(lane) >= 2]
        height, width = self.source_size(i)
        exist = self.entries[i].exist
        slots = [k for k, e in enumerate(exist or ()) if e == 1]
        if exist is not None and len(slots) == len(lanes):
            ordered = sorted(lanes, key=lambda lane: bottom_x(lane, height))
            return [Lane(lane.points, slot) for lane, slot in zip(ordered, slots, strict=True)]
        return assign_slots(lanes, width, height, self.num_slots)

    def _mask(self, i: int) -> np.ndarray | None:
        """The listed ``laneseg_label_w16`` mask; None (draw from the lines) when the list
        names none or the masks were not downloaded (the file is absent)."""
        entry = self.entries[i]
        if entry.mask is None:
            return None
        path = self.root / entry.mask
        if not path.is_file():
            if not self._warned_masks:
                _LOG.warning("%s: mask %s absent, drawing targets from .lines.txt", self.list_file, path)
                self._warned_masks = True
            return None
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise LabelError(f"{path}: not a readable mask image")
        if int(mask.max()) > self.num_slots:
            raise LabelError(f"{path}: mask value {int(mask.max())} > num_slots={self.num_slots}")
        return mask

    def _exist(self, i: int, lanes: Sequence[Lane]) -> np.ndarray:
        exist = self.entries[i].exist
        if exist is None:
            return super()._exist(i, lanes)
        return np.asarray(exist, dtype=np.float32)


class TusimpleDataset(LaneDataset):
    """A TuSimple tree: ``clips/...`` images and JSON-lines label files.

    Lanes are put in slots by where they meet the image bottom relative to the centre
    (:func:`~lane_sad_core.data.slots.assign_slots`); 6 slots, as in the ENet-SAD
    TuSimple lists, hold the up to 5 lanes of real frames.

    Args:
        root: dataset root (``raw_file`` paths are relative to it).
        label_files: one or more label files, absolute or relative to ``root``.
        preprocess: network input definition; the paper's 640x368 by default.
        augment: training augmentation, None for evaluation.
        num_slots: lane slots.
        line_width: target line width in source pixels.
    """

    def __init__(
        self,
        root: str | Path,
        label_files: str | Path | Sequence[str | Path],
        preprocess: PreprocessConfig | None = None,
        augment: AugmentConfig | None = None,
        num_slots: int = 6,
        line_width: float = CULANE_LINE_WIDTH,
    ) -> None:
        super().__init__(preprocess or tusimple_preprocess(), augment, num_slots, line_width)
        self.root = Path(root)
        files = [label_files] if isinstance(label_files, (str, Path)) else list(label_files)
        self.label_files = [Path(f) if Path(f).is_absolute() else self.root / f for f in files]
        self.records = [rec for f in self.label_files for rec in read_tusimple(f)]
        self._images = [self.root / rec.raw_file for rec in self.records]
        self._categories = _meta_categories(self.root)

    def _category_key(self, i: int) -> str:
        return self.records[i].raw_file

    def h_samples(self, i: int) -> list[int]:
        """The label rows of sample ``i`` (TuSimple scores predictions at these rows)."""
        return list(self.records[i].h_samples)

    def lanes(self, i: int) -> list[Lane]:
        """The record's lanes (absent rows dropped) in slots by bottom x."""
        height, width = self.source_size(i)
        return assign_slots(self.records[i].to_lanes(), width, height, self.num_slots)
