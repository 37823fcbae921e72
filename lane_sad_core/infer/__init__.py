"""Inference: backends, post-processing to lanes, temporal smoothing, the detector, overlays (no ROS here).

The names below are loaded on first use (PEP 562), so that importing a light module of
this package, such as :mod:`lane_sad_core.infer.backends` whose backend names the command
line offers, does not import torch.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "BACKENDS": "backends",
    "make_backend": "backends",
    "BackendError": "errors",
    "Backend": "base",
    "resolve_device": "base",
    "TorchBackend": "torch_backend",
    "CompiledTorchBackend": "torch_backend",
    "OnnxRuntimeBackend": "onnxruntime_backend",
    "OpenVINOBackend": "openvino_backend",
    "TensorRTBackend": "tensorrt_backend",
    "DEFAULT_CHECKPOINT": "detector",
    "Detection": "detector",
    "LaneDetector": "detector",
    "blend_attention": "overlay",
    "draw_lanes": "overlay",
    "slot_color": "overlay",
    "PostprocessConfig": "postprocess",
    "lanes_from_probmaps": "postprocess",
    "sample_rows": "postprocess",
    "LaneTracker": "temporal",
    "TemporalConfig": "temporal",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    """The public name ``name``, imported from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
