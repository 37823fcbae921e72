"""Lane masks and their IoU, as the CULane evaluator draws and compares them.

The official ``LaneCompare::get_lane_similarity`` draws each lane on its own zeroed
``im_height x im_width`` (590 x 1640) 8-bit canvas with ``cv::line(img, p[n], p[n+1], 1,
lane_width)`` for every pair of consecutive interpolated points, then returns
``sum(a*b) / (sum(a) + sum(b) - sum(a*b))``. It redraws both lanes for every pair it
compares. This module draws each lane once and compares crops, with the same pixels:

* ``Point2f -> Point`` goes through ``cvRound`` (round half to even; NaN and values beyond
  int32 become INT_MIN, as the x86 conversion instruction gives). ``np.rint`` on the float32
  value does the same.
* ``cv2.polylines`` (thickness 30, LINE_8) paints exactly the union of the per-segment
  ``cv::line`` calls: both draw each segment with OpenCV's ``ThickLine`` (a filled 30 px
  quadrilateral plus a round cap of radius 15 at each end); ``polylines`` only skips start
  caps that coincide with the previous segment's end cap, which paint the same pixels.
* Consecutive points that round to the same pixel are dropped first: such a zero-length
  segment paints only its round cap, already painted by the neighbouring segment.
* Each lane is drawn in a crop of the canvas around its points (a margin of one lane width,
  clipped to the canvas), with integer offsets. OpenCV's rasteriser works in integer fixed
  point, so an integer translation moves every pixel unchanged, and the crop edges that lie
  inside the canvas are never reached by paint. Lanes with coordinates beyond +/-2^20 (only
  from degenerate splines) are drawn on the full canvas at their true coordinates instead.

Not reproducible here: the pixels of OpenCV builds other than the installed one. The
rasteriser has been unchanged since OpenCV 2.4 apart from 64-bit coordinates (3.x), which
matter only for coordinates beyond +/-32767 (degenerate lanes), so results can differ from a
2.4 build of the official tool only for such lanes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.metrics.spline import spline_interp_times

CANVAS_WIDTH = 1640
CANVAS_HEIGHT = 590
LANE_WIDTH = 30

_INT_MIN = np.iinfo(np.int32).min
_CROP_LIMIT = 1 << 20  # coordinates beyond this are drawn on the full canvas


@dataclass(frozen=True)
class LaneMask:
    """A drawn lane: a 0/1 crop of the canvas and where it sits.

    Attributes:
        mask: (h, w) uint8 crop with 1 where the lane is painted.
        x0: canvas column of the crop's left edge.
        y0: canvas row of the crop's top edge.
        area: number of painted pixels (the lane's ``cv::sum``).
    """

    mask: np.ndarray
    x0: int
    y0: int
    area: int


EMPTY_MASK = LaneMask(np.zeros((0, 0), np.uint8), 0, 0, 0)


def official_points(points: np.ndarray) -> np.ndarray:
    """The points the official tool draws for one lane (float32): spline for >= 3 points."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return spline_interp_times(pts) if len(pts) > 2 else pts


def round_points(points: np.ndarray) -> np.ndarray:
    """``cvRound`` of float32 points, as int64 (half to even, INT_MIN when unrepresentable)."""
    rounded = np.rint(np.asarray(points, dtype=np.float32).astype(np.float64))
    invalid = ~np.isfinite(rounded) | (rounded < _INT_MIN) | (rounded > -_INT_MIN - 1)
    return np.where(invalid, _INT_MIN, rounded).astype(np.int64)


def _dedupe(pixels: np.ndarray) -> np.ndarray:
    keep = np.ones(len(pixels), dtype=bool)
    keep[1:] = np.any(pixels[1:] != pixels[:-1], axis=1)
    pixels = pixels[keep]
    return pixels if len(pixels) > 1 else np.repeat(pixels, 2, axis=0)


def draw_lane(
    points: np.ndarray,
    width: int = CANVAS_WIDTH,
    height: int = CANVAS_HEIGHT,
    lane_width: int = LANE_WIDTH,
) -> LaneMask:
    """Draw one lane (raw label points) as the official tool does; crops the canvas.

    Args:
        points: (N, 2) lane points as read from a ``.lines.txt`` (N >= 2).
        width: canvas width (``-c`` of the official tool).
        height: canvas height (``-r``).
        lane_width: line thickness (``-w``).

    Returns:
        The painted crop; ``EMPTY_MASK`` when the lane misses the canvas.
    """
    pixels = _dedupe(round_points(official_points(points)))
    margin = lane_width
    lo = pixels.min(axis=0) - margin
    hi = pixels.max(axis=0) + margin + 1
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), width), min(int(hi[1]), height)
    if x0 >= x1 or y0 >= y1:
        return EMPTY_MASK
    if np.abs(pixels).max() > _CROP_LIMIT:
        x0, y0, x1, y1 = 0, 0, width, height
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    local = (pixels - (x0, y0)).astype(np.int32)
    cv2.polylines(canvas, [local.reshape(-1, 1, 2)], False, 1, lane_width, cv2.LINE_8)
    return LaneMask(canvas, x0, y0, int(np.count_nonzero(canvas)))


def intersection(a: LaneMask, b: LaneMask) -> int:
    """Pixels painted in both masks."""
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1 = min(a.x0 + a.mask.shape[1], b.x0 + b.mask.shape[1])
    y1 = min(a.y0 + a.mask.shape[0], b.y0 + b.mask.shape[0])
    if x0 >= x1 or y0 >= y1:
        return 0
    crop_a = a.mask[y0 - a.y0 : y1 - a.y0, x0 - a.x0 : x1 - a.x0]
    crop_b = b.mask[y0 - b.y0 : y1 - b.y0, x0 - b.x0 : x1 - b.x0]
    return int(np.count_nonzero(crop_a & crop_b))


def iou_matrix(
    rows: Sequence[np.ndarray],
    cols: Sequence[np.ndarray],
    width: int = CANVAS_WIDTH,
    height: int = CANVAS_HEIGHT,
    lane_width: int = LANE_WIDTH,
) -> np.ndarray:
    """IoU of every pair of lanes, as ``LaneCompare::get_lane_similarity`` returns it.

    A lane with fewer than 2 points has IoU 0 with everything (the tool returns 0 before
    drawing). Two lanes that both miss the canvas have IoU NaN (0/0 in the tool).

    Args:
        rows: lanes as (N, 2) point arrays (the annotations, in the tool's order).
        cols: lanes as (N, 2) point arrays (the detections).
        width: canvas width.
        height: canvas height.
        lane_width: line thickness.

    Returns:
        (len(rows), len(cols)) float64 matrix.
    """

    def draw_all(lanes: Sequence[np.ndarray]) -> list[LaneMask | None]:
        return [draw_lane(lane, width, height, lane_width) if len(lane) >= 2 else None for lane in lanes]

    row_masks, col_masks = draw_all(rows), draw_all(cols)
    out = np.zeros((len(rows), len(cols)), dtype=np.float64)
    for i, a in enumerate(row_masks):
        for j, b in enumerate(col_masks):
            if a is None or b is None:
                continue
            inter = intersection(a, b)
            union = a.area + b.area - inter
            out[i, j] = inter / union if union else np.nan
    return out
