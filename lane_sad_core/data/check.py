"""Check a CULane-layout data set the way training will read it: counts and label defects.

Frames are read through :class:`~lane_sad_core.data.datasets.CULaneDataset`, so slots are
the ones training sees (existence flags, else the bottom-x rule). Defects, one line each:

* ``missing image`` / ``unreadable image`` / ``missing labels`` / ``bad labels``
* ``empty frame``: a label file without lanes (CULane has some; worth a look)
* ``too few points``: a lane with fewer than 2 points
* ``unordered rows``: a lane whose y does not run monotonically
* ``outside image``: points beyond the frame by more than ``margin`` of its width
  (CULane's own labels run up to ~3.5% past the border)
* ``flags disagree``: the list's existence flags count other lanes than ``.lines.txt``
* ``no slot``: more lanes on one side of the centre than slots there
* ``lanes cross``: a lane in a left slot lies right of a lane in a right slot
* ``missing mask`` / ``bad mask`` / ``mask disagrees``: the listed ``laneseg_label_w16``
  mask is absent, unreadable or of another size, or its slots and the lines differ
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from lane_sad_core.data.formats import CulaneListEntry, read_culane_lines, read_culane_list, write_culane_list
from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane

if TYPE_CHECKING:  # datasets imports torch; only check_dataset needs it at run time
    from lane_sad_core.data.datasets import CULaneDataset

# A lane point must lie on its mask slot within this many pixels.
MASK_TOLERANCE = 3
# Share of a lane's points that must lie on its mask slot.
MASK_AGREEMENT = 0.8
# Two lanes cross when the left one is this far (fraction of the width) right of the other.
CROSS_TOLERANCE = 0.005
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class Defect:
    """One label defect of one frame."""

    frame: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.frame}: {self.kind}: {self.detail}"


@dataclass
class FrameCheck:
    """What was found in one frame."""

    image: Path
    key: str
    lanes: list[Lane] = field(default_factory=list)
    mask: Path | None = None
    category: str = "unknown"
    defects: list[Defect] = field(default_factory=list)


@dataclass
class CheckReport:
    """Counts and defects of a data set."""

    root: Path
    source: str
    num_slots: int
    frames: list[FrameCheck]

    def defects(self) -> list[Defect]:
        """Every defect, frame by frame."""
        return [d for f in self.frames for d in f.defects]

    def slot_counts(self) -> list[int]:
        """Lanes per slot, left to right."""
        counts = [0] * self.num_slots
        for frame in self.frames:
            for lane in frame.lanes:
                if 0 <= lane.slot < self.num_slots:
                    counts[lane.slot] += 1
        return counts

    def category_counts(self) -> dict[str, int]:
        """Frames per scene category (CULane's test_split lists, or ``unknown``)."""
        return dict(sorted(Counter(f.category for f in self.frames).items()))

    def summary_lines(self) -> list[str]:
        """The counts, for people."""
        kinds = Counter(d.kind for d in self.defects())
        slots = " ".join(f"{k + 1}:{n}" for k, n in enumerate(self.slot_counts()))
        return [
            f"{self.root}: {len(self.frames)} frames from {self.source}",
            f"lanes per slot (1 = leftmost): {slots}; frames without lanes: {sum(not f.lanes for f in self.frames)}",
            "categories: " + ", ".join(f"{k} {n}" for k, n in self.category_counts().items()),
            "defects: " + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"),
        ]


def list_entries(root: Path, list_file: Path | None) -> tuple[list[CulaneListEntry], str]:
    """The frames to check and where they came from.

    ``list_file`` when given; else ``list/all_gt.txt`` (written by ``lane-sad convert``);
    else every ``list/*_gt.txt`` (official CULane, ``lane-sad synth``); else every
    ``list/*.txt``; else every ``*.lines.txt`` below ``root`` with an image beside it.
    """
    if list_file is not None:
        path = list_file if list_file.is_absolute() else root / list_file
        return read_culane_list(path), str(path)
    lists = root / "list"
    for pattern in ("all_gt.txt", "*_gt.txt", "*.txt"):
        files = sorted(lists.glob(pattern)) if lists.is_dir() else []
        if files:
            return _merge(files, keep_fields=pattern != "*.txt"), ", ".join(str(f) for f in files)
    return _globbed(root), f"the *.lines.txt files below {root}"


def _merge(files: Sequence[Path], keep_fields: bool) -> list[CulaneListEntry]:
    seen: dict[str, CulaneListEntry] = {}
    for path in files:
        for entry in read_culane_list(path):
            seen.setdefault(entry.image, entry if keep_fields else CulaneListEntry(entry.image))
    return list(seen.values())


def _globbed(root: Path) -> list[CulaneListEntry]:
    out = []
    for label in sorted(root.rglob("*.lines.txt")):
        stem = label.name[: -len(".lines.txt")]
        image = next((p for s in IMAGE_SUFFIXES if (p := label.with_name(stem + s)).is_file()), None)
        out.append(CulaneListEntry((image or label.with_name(stem + ".jpg")).relative_to(root).as_posix()))
    return out


def check_dataset(root: Path, list_file: Path | None = None, num_slots: int = 4, margin: float = 0.05) -> CheckReport:
    """Check every frame of the data set at ``root``.

    Raises:
        LabelError: ``root`` is not a folder, a list file is malformed, or there are no frames.
    """
    from lane_sad_core.data.datasets import CULaneDataset

    if not root.is_dir():
        raise LabelError(f"{root}: not a folder")
    entries, source = list_entries(root, list_file)
    if not entries:
        raise LabelError(f"{root}: no frames ({source} lists none)")
    if entries[0].exist is not None:
        num_slots = len(entries[0].exist)
    with tempfile.TemporaryDirectory() as tmp:
        merged = Path(tmp) / "frames.txt"
        write_culane_list(merged, entries)
        dataset = CULaneDataset(root, merged, num_slots=num_slots)
        frames = [_check_frame(dataset, i, margin) for i in range(len(dataset))]
    return CheckReport(root, source, num_slots, frames)


def _check_frame(dataset: CULaneDataset, i: int, margin: float) -> FrameCheck:
    entry = dataset.entries[i]
    frame = FrameCheck(dataset.image_path(i), entry.image, category=dataset.category(i))
    frame.mask = dataset.root / entry.mask if entry.mask else None
    defects = frame.defects
    if not frame.image.is_file():
        defects.append(Defect(entry.image, "missing image", str(frame.image)))
        return frame
    try:
        height, width = dataset.source_size(i)
    except FileNotFoundError:
        defects.append(Defect(entry.image, "unreadable image", str(frame.image)))
        return frame
    label = dataset.label_path(i)
    if not label.is_file():
        defects.append(Defect(entry.image, "missing labels", str(label)))
        return frame
    try:
        raw = read_culane_lines(label)
    except LabelError as exc:
        defects.append(Defect(entry.image, "bad labels", str(exc)))
        return frame
    defects.extend(Defect(entry.image, kind, detail) for kind, detail in line_defects(raw, width, height, margin))
    frame.lanes = dataset.lanes(i)
    usable = sum(len(lane) >= 2 for lane in raw)
    flagged = sum(e == 1 for e in entry.exist or ())
    if entry.exist is not None and flagged != usable:
        defects.append(Defect(entry.image, "flags disagree", f"{flagged} flags set, {usable} lanes"))
    if len(frame.lanes) < usable:
        defects.append(Defect(entry.image, "no slot", f"{usable - len(frame.lanes)} of {usable} lanes have no slot"))
    defects.extend(Defect(entry.image, "lanes cross", d) for d in crossings(frame.lanes, width))
    if frame.mask is not None:
        defects.extend(Defect(entry.image, k, d) for k, d in mask_defects(frame.mask, frame.lanes, (height, width)))
    return frame


def line_defects(lanes: Sequence[Lane], width: int, height: int, margin: float) -> list[tuple[str, str]]:
    """Defects of a frame's lines on their own: empty, short, unordered, outside."""
    if not lanes:
        return [("empty frame", "no lanes in the label file")]
    out = []
    pad = margin * width
    for n, lane in enumerate(lanes, start=1):
        if len(lane) < 2:
            out.append(("too few points", f"lane {n} has {len(lane)}"))
            continue
        dy = np.diff(lane.points[:, 1])
        if not ((dy < 0).all() or (dy > 0).all()):
            out.append(("unordered rows", f"lane {n}: y is not monotonic"))
        x, y = lane.points[:, 0], lane.points[:, 1]
        outside = (x < -pad) | (x > width - 1 + pad) | (y < 0) | (y > height)
        if outside.any():
            out.append(("outside image", f"lane {n}: {int(outside.sum())} of {len(lane)} points"))
    return out


def crossings(lanes: Sequence[Lane], width: int) -> list[str]:
    """Pairs of slotted lanes whose left-to-right order flips somewhere along their common rows."""
    out = []
    ordered = sorted((lane for lane in lanes if len(lane) >= 2), key=lambda lane: lane.slot)
    for left, right in pairwise(ordered):
        a, b = left.points[np.argsort(left.points[:, 1])], right.points[np.argsort(right.points[:, 1])]
        lo, hi = max(a[0, 1], b[0, 1]), min(a[-1, 1], b[-1, 1])
        if hi <= lo:
            continue
        ys = np.linspace(lo, hi, 50)
        gap = np.interp(ys, b[:, 1], b[:, 0]) - np.interp(ys, a[:, 1], a[:, 0])
        if gap.min() < -CROSS_TOLERANCE * width:
            y = ys[int(np.argmin(gap))]
            out.append(f"slot {left.slot + 1} lies right of slot {right.slot + 1} at y={y:.0f}")
    return out


def mask_defects(path: Path, lanes: Sequence[Lane], shape: tuple[int, int]) -> list[tuple[str, str]]:
    """Whether the slot mask at ``path`` and the lines say the same."""
    if not path.is_file():
        return [("missing mask", str(path))]
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != shape:
        size = "unreadable" if mask is None else f"{mask.shape[1]}x{mask.shape[0]}, the image is {shape[1]}x{shape[0]}"
        return [("bad mask", f"{path.name}: {size}")]
    out = []
    slots = {lane.slot for lane in lanes}
    for value in np.unique(mask[mask > 0]):
        if int(value) - 1 not in slots:
            out.append(("mask disagrees", f"the mask has slot {int(value)}, the lines do not"))
    for lane in lanes:
        share = _share_on_mask(mask, lane)
        if share is not None and share < MASK_AGREEMENT:
            out.append(("mask disagrees", f"slot {lane.slot + 1}: {share:.0%} of its points lie on its mask slot"))
    return out


def _share_on_mask(mask: np.ndarray, lane: Lane) -> float | None:
    """Share of the lane's points (inside the mask) within ``MASK_TOLERANCE`` px of its slot."""
    height, width = mask.shape
    on = cv2.dilate((mask == lane.slot + 1).astype(np.uint8), np.ones((2 * MASK_TOLERANCE + 1,) * 2, np.uint8))
    x, y = np.rint(lane.points[:, 0]).astype(int), np.rint(lane.points[:, 1]).astype(int)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    if not inside.any():
        return None
    return float(on[y[inside], x[inside]].mean())
