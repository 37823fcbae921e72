"""Inference: post-processing to lanes, the detector, and overlay drawing (no ROS here)."""

from lane_sad_core.infer.detector import DEFAULT_CHECKPOINT, Detection, LaneDetector, resolve_device
from lane_sad_core.infer.overlay import blend_attention, draw_lanes, slot_color
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps, sample_rows

__all__ = [
    "DEFAULT_CHECKPOINT",
    "Detection",
    "LaneDetector",
    "PostprocessConfig",
    "blend_attention",
    "draw_lanes",
    "lanes_from_probmaps",
    "resolve_device",
    "sample_rows",
    "slot_color",
]
