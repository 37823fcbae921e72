"""Lane polylines to segmentation targets (0 background, slot + 1 on the lane).

CULane's official masks (``laneseg_label_w16``, made by SCNN's ``seg_label_generate``) are
drawn at 1640x590 with 16 px wide lines through spline-interpolated label points; the
ENet-SAD and SCNN training code then resizes them to the network size with nearest
neighbour, so a lane is about 16 x 800/1640 ~ 8 px wide at 800x288. Drawing directly at the
network size with the width scaled the same way gives the same target without the
full-size detour, and also serves labels that come without masks (TuSimple, custom sets).
Label points are at most 10 px apart in the official formats, so straight segments
between them stay within a pixel of the spline. Lines are OpenCV thick lines, as in the
official tool: centred on the polyline, up to one pixel wider per side than nominal.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from lane_sad_core.lanes import Lane

_SHIFT = 4  # cv2 fixed-point bits: lines keep sub-pixel positions


def scaled_thickness(source_width_px: float, scale_x: float, scale_y: float) -> int:
    """A line width given at source resolution, at a target scaled by (scale_x, scale_y)."""
    return max(1, round(source_width_px * float(np.sqrt(scale_x * scale_y))))


def rasterize_lanes(lanes: Sequence[Lane], shape: tuple[int, int], thickness: int) -> np.ndarray:
    """Draw lanes (points already in target pixels) into a uint8 (H, W) slot map.

    Args:
        lanes: lanes with ``slot`` >= 0; lanes with an unknown slot or < 2 points are skipped.
        shape: (height, width) of the target.
        thickness: line width in target pixels.
    """
    seg = np.zeros(shape[:2], dtype=np.uint8)
    for lane in lanes:
        if lane.slot < 0 or len(lane) < 2:
            continue
        pts = np.round(lane.points * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(seg, [pts], False, lane.slot + 1, thickness, cv2.LINE_8, _SHIFT)
    return seg
