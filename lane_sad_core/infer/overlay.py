"""Drawing for people: lanes over a frame, attention maps blended over a frame.

Used by the ROS node's debug image and by ``lane-sad infer``. Inputs are never modified;
every function returns a new uint8 BGR image.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from lane_sad_core.data.preprocess import PreprocessConfig, crop_rows
from lane_sad_core.lanes import Lane

# BGR colour per lane slot (left to right); slots beyond the list reuse it cyclically.
SLOT_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 255, 0),
    (255, 128, 0),
    (0, 0, 255),
    (0, 255, 255),
    (255, 0, 255),
    (255, 255, 0),
)
UNKNOWN_SLOT_COLOR = (200, 200, 200)


def slot_color(slot: int) -> tuple[int, int, int]:
    """The BGR colour of a lane slot (grey for unknown, -1)."""
    return UNKNOWN_SLOT_COLOR if slot < 0 else SLOT_COLORS[slot % len(SLOT_COLORS)]


def draw_lanes(image_bgr: np.ndarray, lanes: Sequence[Lane], thickness: int = 3, radius: int = 5) -> np.ndarray:
    """A copy of ``image_bgr`` with each lane as a polyline plus dots, coloured by slot.

    Lines and dots scale with the image (``thickness`` and ``radius`` are for ~1280 px wide
    frames) so they read the same on small and large images.
    """
    out = image_bgr.copy()
    scale = max(out.shape[1] / 1280.0, 0.4)
    t, r = max(1, round(thickness * scale)), max(1, round(radius * scale))
    for lane in lanes:
        if len(lane) == 0:
            continue
        color = slot_color(lane.slot)
        pts = np.rint(lane.points).astype(np.int32)
        cv2.polylines(out, [pts.reshape(-1, 1, 2)], False, color, t, cv2.LINE_AA)
        for x, y in pts:
            cv2.circle(out, (int(x), int(y)), r, color, -1, cv2.LINE_AA)
    return out


def blend_attention(
    image_bgr: np.ndarray,
    attention: np.ndarray,
    preprocess: PreprocessConfig,
    alpha: float = 0.5,
    colormap: int = cv2.COLORMAP_JET,
) -> np.ndarray:
    """A copy of ``image_bgr`` with a [0, 1] network-resolution map colour-mapped over it.

    The map covers the region the network saw: the rows below the crop line, stretched
    back to the source size; the cropped sky is left as it is.
    """
    out = image_bgr.copy()
    src_h, src_w = out.shape[:2]
    top = crop_rows(src_h, preprocess)
    heat = np.clip(np.asarray(attention, dtype=np.float32), 0.0, 1.0)
    heat8 = cv2.resize((heat * 255.0).astype(np.uint8), (src_w, src_h - top), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap(heat8, colormap)
    out[top:] = cv2.addWeighted(out[top:], 1.0 - alpha, colored, alpha, 0.0)
    return out
