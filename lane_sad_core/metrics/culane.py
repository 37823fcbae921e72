"""CULane's official metric: TP, FP, FN, precision, recall and F1, as the C++ tool counts.

The reference is the evaluator in XingangPan/SCNN ``tools/lane_evaluation`` run the way every
published CULane number was produced: ``evaluate -w 30 -t 0.5 -c 1640 -r 590`` on
``list/test.txt`` and on each ``list/test_split/test*_*.txt``. Per frame it:

1. reads the annotation and detection ``.lines.txt`` (image path with its last extension
   replaced by ``.lines.txt``); an unreadable detection file means no detections;
2. densifies lanes of >= 3 points with its cubic spline (``spline.py``) and draws every lane
   30 px wide on a 1640 x 590 canvas (``raster.py``);
3. computes the IoU of every annotation/detection pair, matches them with its tolerant
   Kuhn-Munkres (``matching.py``) and counts a matched pair as TP when IoU > 0.5;
4. adds ``FN = annotations - TP`` and ``FP = detections - TP``; a frame without annotations
   adds all its detections as FP, one without detections all its annotations as FN.

Totals are summed over the list; precision = TP / (TP + FP), recall = TP / (TP + FN),
F1 = 2PR / (P + R). The crossroad split has no annotated lanes, so only its FP is reported.

Every line of a ``.lines.txt`` is a lane in the tool, even a blank one or one with a single
point: such lanes are drawn nowhere, have IoU 0 and so count as FN (annotation) or FP
(detection). This module keeps that rule.

Deliberate differences, all on malformed input where the tool gives no meaningful number:

* A token that is not a finite number, or an odd number of coordinates on a line, raises
  ``LabelError``; the tool would silently stop reading the line there.
* A missing annotation file raises ``LabelError``; the tool would count it as a frame
  without lanes (every detection a FP), which in practice means a wrong ``--gt`` root.
* List lines are stripped and only their first field is used (the tool would look for a
  file name ending in the spaces); blank list lines are skipped (the tool finds no file for
  them and counts nothing, so the totals are the same).
* Undefined ratios are ``None`` rather than the tool's -1, and F1 is 0.0 (not NaN) when
  there are detections and annotations but no TP.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane
from lane_sad_core.metrics.matching import official_match
from lane_sad_core.metrics.raster import CANVAS_HEIGHT, CANVAS_WIDTH, LANE_WIDTH, iou_matrix

T = TypeVar("T")
Progress = Callable[[Iterable[T], int], Iterable[T]]

IOU_THRESHOLD = 0.5
LABEL_SUFFIX = ".lines.txt"
CROSSROAD = "cross"
_SPLIT_PREFIX = re.compile(r"^test\d+_")


@dataclass(frozen=True)
class CulaneSettings:
    """The official tool's options, at the values used for every published CULane result.

    Attributes:
        iou_threshold: a matched pair is a TP when its IoU is strictly above this (``-t``).
        lane_width: line thickness in pixels (``-w``).
        width: canvas width (``-c``).
        height: canvas height (``-r``).
    """

    iou_threshold: float = IOU_THRESHOLD
    lane_width: int = LANE_WIDTH
    width: int = CANVAS_WIDTH
    height: int = CANVAS_HEIGHT


@dataclass(frozen=True)
class CulaneCounts:
    """Summed counts over a set of frames, with the ratios the official tool prints.

    Attributes:
        tp: matched lanes with IoU above the threshold.
        fp: detections not matched.
        fn: annotations not matched.
        frames: frames summed.
        fp_only: True for the crossroad split, whose ratios are not reported.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    frames: int = 0
    fp_only: bool = False

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP), or None without detections (or for crossroad)."""
        if self.fp_only or self.tp + self.fp == 0:
            return None
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN), or None without annotations (or for crossroad)."""
        if self.fp_only or self.tp + self.fn == 0:
            return None
        return self.tp / (self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        """2PR / (P + R), or None when P or R is undefined; 0.0 when both are 0."""
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def as_dict(self) -> dict[str, int | float | None]:
        """The counts and ratios under the keys the CLI's JSON uses."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "frames": self.frames,
        }


@dataclass(frozen=True)
class CulaneReport:
    """The result of scoring a prediction tree.

    Attributes:
        total: counts over the main list (``list/test.txt`` or every label found).
        categories: counts per category list, in file-name order (CULane's own names:
            normal, crowd, hlight, shadow, noline, arrow, curve, cross, night).
    """

    total: CulaneCounts
    categories: dict[str, CulaneCounts] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Total counts at the top level plus a ``categories`` object."""
        out: dict = self.total.as_dict()
        out["categories"] = {name: c.as_dict() for name, c in self.categories.items()}
        return out


OFFICIAL = CulaneSettings()  # the settings of every published CULane result


def _parse_lane_line(path: Path, number: int, line: str) -> np.ndarray:
    fields = line.split()
    try:
        values = np.array([float(v) for v in fields], dtype=np.float64)
    except ValueError as exc:
        raise LabelError(f"{path}:{number}: not a number ({exc})") from None
    if not np.all(np.isfinite(values)):
        raise LabelError(f"{path}:{number}: coordinates must be finite numbers")
    if len(values) % 2:
        raise LabelError(f"{path}:{number}: odd number of coordinates ({len(values)})")
    return values.astype(np.float32).reshape(-1, 2)


def read_lane_file(path: str | Path) -> list[np.ndarray]:
    """Read a ``.lines.txt`` as the official tool does: every line is a lane.

    Args:
        path: the file; a missing file reads as no lanes (the tool's rule for detections).

    Returns:
        One float32 (N, 2) array per line, N possibly 0 or 1 (blank or one-point lines).

    Raises:
        LabelError: a token that is not a finite number, or an odd number of coordinates.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot read ({exc})") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # std::getline yields no line after the final newline
    return [_parse_lane_line(path, n, line) for n, line in enumerate(lines, start=1)]


def _as_points(lane: Lane | np.ndarray) -> np.ndarray:
    points = lane.points if isinstance(lane, Lane) else lane
    return np.asarray(points, dtype=np.float32).reshape(-1, 2)


def culane_frame_counts(
    pred_lanes: Sequence[Lane | np.ndarray],
    gt_lanes: Sequence[Lane | np.ndarray],
    settings: CulaneSettings = OFFICIAL,
) -> tuple[int, int, int]:
    """TP, FP and FN of one frame, as ``Counter::count_im_pair`` counts them.

    Args:
        pred_lanes: detected lanes (``Lane`` or (N, 2) arrays) in source-image pixels,
            points in the order they would be written to ``.lines.txt``.
        gt_lanes: annotated lanes, same form.
        settings: the tool's options.

    Returns:
        ``(tp, fp, fn)``.
    """
    anno = [_as_points(lane) for lane in gt_lanes]
    detect = [_as_points(lane) for lane in pred_lanes]
    if not anno:
        return 0, len(detect), 0
    if not detect:
        return 0, 0, len(anno)
    iou = iou_matrix(anno, detect, settings.width, settings.height, settings.lane_width)
    match = official_match(iou)
    tp = sum(1 for i, j in enumerate(match) if j >= 0 and iou[i, j] > settings.iou_threshold)
    return tp, len(detect) - tp, len(anno) - tp


def label_stem(entry: str) -> str:
    """The frame key of a list entry: its path without the last extension or leading '/'."""
    entry = entry.strip().split()[0]
    dot = entry.rfind(".")
    return (entry[:dot] if dot >= 0 else entry).lstrip("/")


def read_list_file(path: str | Path) -> list[str]:
    """Frame keys of a CULane list file (image paths relative to the dataset root)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise LabelError(f"{path}: list file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot read list ({exc})") from None
    return [label_stem(line) for line in lines if line.strip()]


def find_labels(gt_root: str | Path, exclude: str | Path | None = None) -> list[str]:
    """Frame keys of every ``.lines.txt`` under ``gt_root`` (sorted), skipping ``exclude``.

    ``exclude`` is the prediction tree; it is skipped when it lies strictly inside the
    annotation root (scoring the labels against themselves, pred = gt, stays possible).
    """
    root = Path(gt_root)
    skip = Path(exclude).resolve() if exclude is not None else None
    if skip is not None and (skip == root.resolve() or not skip.is_relative_to(root.resolve())):
        skip = None
    keys = []
    for path in root.rglob(f"*{LABEL_SUFFIX}"):
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        keys.append(path.relative_to(root).as_posix()[: -len(LABEL_SUFFIX)])
    return sorted(keys)


def category_name(list_file: Path) -> str:
    """CULane's category name of a split list: ``test1_crowd.txt`` -> ``crowd``."""
    return _SPLIT_PREFIX.sub("", list_file.stem)


def read_categories(categories_dir: str | Path) -> dict[str, list[str]]:
    """Frame keys of every ``*.txt`` list in a folder like CULane's ``list/test_split``."""
    folder = Path(categories_dir)
    if not folder.is_dir():
        raise LabelError(f"{folder}: categories folder not found")
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise LabelError(f"{folder}: no *.txt list files")
    return {category_name(f): read_list_file(f) for f in files}


def _count_files(task: tuple[Path, Path, CulaneSettings]) -> tuple[int, int, int]:
    pred_file, gt_file, settings = task
    if not gt_file.is_file():
        raise LabelError(f"{gt_file}: annotation file not found")
    return culane_frame_counts(read_lane_file(pred_file), read_lane_file(gt_file), settings)


def _count_frames(tasks: list[tuple[Path, Path, CulaneSettings]], workers: int) -> Iterator[tuple[int, int, int]]:
    if workers <= 1 or len(tasks) < 2:
        yield from map(_count_files, tasks)
        return
    chunk = max(1, min(64, len(tasks) // (4 * workers)))
    with multiprocessing.Pool(workers) as pool:
        yield from pool.imap(_count_files, tasks, chunksize=chunk)


def _sum_counts(keys: Sequence[str], per_frame: dict[str, tuple[int, int, int]], fp_only: bool = False) -> CulaneCounts:
    tp = sum(per_frame[k][0] for k in keys)
    fp = sum(per_frame[k][1] for k in keys)
    fn = sum(per_frame[k][2] for k in keys)
    return CulaneCounts(tp, fp, fn, len(keys), fp_only)


def score_culane(
    pred_dir: str | Path,
    gt_root: str | Path,
    list_file: str | Path | None = None,
    categories_dir: str | Path | None = None,
    *,
    settings: CulaneSettings = OFFICIAL,
    workers: int = 1,
    progress: Progress | None = None,
) -> CulaneReport:
    """Score a tree of ``.lines.txt`` predictions against CULane annotations.

    Each distinct frame is scored once, even when it appears in several lists.

    Args:
        pred_dir: predictions, mirroring the image tree (``<key>.lines.txt``).
        gt_root: dataset root with a ``.lines.txt`` beside each image.
        list_file: frames of the total (like ``list/test.txt``); default: every label
            under ``gt_root`` (outside ``pred_dir``).
        categories_dir: folder of category lists (like ``list/test_split``), optional.
        settings: the tool's options.
        workers: processes to use (1 = in this process).
        progress: wraps the per-frame loop, e.g. ``lambda it, n: tqdm(it, total=n)``.

    Returns:
        The totals and per-category counts.

    Raises:
        LabelError: a missing list, category folder or annotation file, or a malformed
            ``.lines.txt``.
    """
    pred_dir, gt_root = Path(pred_dir), Path(gt_root)
    if not gt_root.is_dir():
        raise LabelError(f"{gt_root}: annotation root not found")
    if list_file is not None:
        total_keys = read_list_file(list_file)
    else:
        total_keys = find_labels(gt_root, exclude=pred_dir)
        if not total_keys:
            raise LabelError(f"{gt_root}: no {LABEL_SUFFIX} files found")
    categories = read_categories(categories_dir) if categories_dir is not None else {}
    unique = list(dict.fromkeys([*total_keys, *(k for ks in categories.values() for k in ks)]))
    tasks = [(pred_dir / f"{k}{LABEL_SUFFIX}", gt_root / f"{k}{LABEL_SUFFIX}", settings) for k in unique]
    results: Iterable[tuple[int, int, int]] = _count_frames(tasks, workers)
    if progress is not None:
        results = progress(results, len(tasks))
    per_frame = dict(zip(unique, results, strict=True))
    return CulaneReport(
        total=_sum_counts(total_keys, per_frame),
        categories={name: _sum_counts(keys, per_frame, fp_only=name == CROSSROAD) for name, keys in categories.items()},
    )
