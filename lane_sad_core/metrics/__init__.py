"""The official lane metrics, reproduced exactly: TuSimple accuracy/FP/FN and CULane F1.

``tusimple`` follows TuSimple's ``evaluate/lane.py``; ``culane`` (with ``spline``,
``raster`` and ``matching``) follows the C++ evaluator of XingangPan/SCNN. Each module's
docstring lists the rules it copies and the few places where it deliberately differs.
``stability`` (no labels) measures how steady lanes are over a video: jitter and flicker.
"""

from lane_sad_core.metrics.culane import (
    CulaneCounts,
    CulaneReport,
    CulaneSettings,
    culane_frame_counts,
    read_lane_file,
    score_culane,
)
from lane_sad_core.metrics.raster import iou_matrix
from lane_sad_core.metrics.stability import StabilityReport, stability
from lane_sad_core.metrics.tusimple import (
    TusimpleFrame,
    TusimpleScore,
    score_tusimple,
    score_tusimple_files,
    tusimple_frame_score,
)

__all__ = [
    "CulaneCounts",
    "CulaneReport",
    "CulaneSettings",
    "StabilityReport",
    "TusimpleFrame",
    "TusimpleScore",
    "culane_frame_counts",
    "iou_matrix",
    "read_lane_file",
    "score_culane",
    "score_tusimple",
    "score_tusimple_files",
    "stability",
    "tusimple_frame_score",
]
