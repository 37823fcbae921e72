"""Deployment artefacts: verified ONNX files and TensorRT engines that describe themselves."""

from lane_sad_core.export.errors import ExportError
from lane_sad_core.export.onnx import (
    DEFAULT_OPSET,
    ExportResult,
    ProbabilityModel,
    export_checkpoint,
    export_onnx,
    read_onnx_meta,
    verify_onnx,
)
from lane_sad_core.export.tensorrt import build_engine

__all__ = [
    "DEFAULT_OPSET",
    "ExportError",
    "ExportResult",
    "ProbabilityModel",
    "build_engine",
    "export_checkpoint",
    "export_onnx",
    "read_onnx_meta",
    "verify_onnx",
]
