"""Inference: backends, post-processing to lanes, temporal smoothing, the detector, overlays (no ROS here)."""

from lane_sad_core.infer.backends import (
    BACKENDS,
    Backend,
    BackendError,
    CompiledTorchBackend,
    OnnxRuntimeBackend,
    TorchBackend,
    make_backend,
)
from lane_sad_core.infer.detector import DEFAULT_CHECKPOINT, Detection, LaneDetector, resolve_device
from lane_sad_core.infer.overlay import blend_attention, draw_lanes, slot_color
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps, sample_rows
from lane_sad_core.infer.temporal import LaneTracker, TemporalConfig
from lane_sad_core.infer.tensorrt_backend import TensorRTBackend

__all__ = [
    "BACKENDS",
    "DEFAULT_CHECKPOINT",
    "Backend",
    "BackendError",
    "CompiledTorchBackend",
    "Detection",
    "LaneDetector",
    "LaneTracker",
    "OnnxRuntimeBackend",
    "PostprocessConfig",
    "TemporalConfig",
    "TensorRTBackend",
    "TorchBackend",
    "blend_attention",
    "draw_lanes",
    "lanes_from_probmaps",
    "make_backend",
    "resolve_device",
    "sample_rows",
    "slot_color",
]
