"""The exported ONNX file in OpenVINO on the CPU: Intel's own runtime, bfloat16 where the CPU has it.

OpenVINO reads the same ``.onnx`` file as the onnxruntime backend (and its lane_sad
metadata, so preprocessing and classes come from the file) and compiles it for this CPU:
BatchNorm folded, PReLU and residual sums fused into the convolutions' post-ops, the
convolutions in one channels-last layout, and oneDNN's AMX / AVX512-BF16 kernels when it
computes in bfloat16.

One rewrite comes first. PyTorch exports a PReLU's per-channel slope with shape (C, 1, 1),
and OpenVINO 2026.4 fuses a PReLU into the convolution before it only when the slope is
(C,) or (1, C, 1, 1). Unfused, each of ENet-SAD's PReLUs (91 in the export) runs on its own
in the plain layout between two layout conversions: 196 reorders, 40-50 % of the frame's
time in OpenVINO's per-layer counters on the development VM (``bench/results/profile.md``). The backend reshapes those
slopes to (1, C, 1, 1), the same values broadcast the same way, before compiling.

Precision: ``auto`` (backend ``openvino``) computes in bfloat16 where the CPU does so
natively (AVX512-BF16 or AMX) and in float32 elsewhere; ``f32`` (backend
``openvino-f32``) always in float32, for results within float rounding of PyTorch. Inputs
and outputs stay float32 either way. The latency hint asks for one stream, all threads
on the one request a frame is; ``threads`` caps them (``INFERENCE_NUM_THREADS``).

The input is handed to OpenVINO without a copy (``share_inputs``); the outputs are copied
out, as OpenVINO reuses their memory on the next call and the caller owns what ``run``
returns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from lane_sad_core.export.onnx import INPUT_NAME, OUTPUT_NAMES, read_onnx_meta
from lane_sad_core.infer.base import run_in_chunks
from lane_sad_core.infer.errors import BackendError

PRECISIONS = ("auto", "bf16", "f32")


def _import_openvino():
    """The ``openvino`` module, or BackendError saying it is missing here."""
    try:
        import openvino
    except ImportError:
        raise BackendError("openvino is not installed here (pip install openvino)") from None
    return openvino


def one_line(exc: BaseException) -> str:
    """OpenVINO's multi-line exception text as one line: its ``Exception from <file>`` frames dropped."""
    lines = [line.strip() for line in str(exc).splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("Exception from ")) or type(exc).__name__


class OpenVINOBackend:
    """An exported ``.onnx`` file compiled by OpenVINO for this CPU.

    Args:
        path: ONNX file written by :func:`lane_sad_core.export.onnx.export_onnx`.
        device: ``auto`` or ``cpu``; OpenVINO's CPU plugin is the only device used.
        threads: inference threads (None: OpenVINO's default, one per physical core).
        precision: ``auto`` (bfloat16 where native, else float32), ``bf16`` or ``f32``.
        performance_hint: OpenVINO's ``PERFORMANCE_HINT``; ``LATENCY`` suits one frame at a time.
        properties: further OpenVINO CPU properties (e.g. ``{"PERF_COUNT": True}`` for per-layer
            counters); they override the ones above.

    Attributes:
        precision: what the network computes in here, ``bf16`` or ``f32``.
        fixed_batch: the batch size of the file (None when the file's batch is free).
        warmup_s: seconds reading and compiling the file took.

    Raises:
        BackendError: openvino is missing, the device is not the CPU, bfloat16 was asked for
            on a CPU without it, or OpenVINO cannot compile the file (one line says why).
        CheckpointError: the file is missing, not ONNX, or lacks lane_sad metadata.
    """

    name = "openvino"

    def __init__(
        self,
        path: str | Path,
        device: str | torch.device = "auto",
        threads: int | None = None,
        precision: str = "auto",
        performance_hint: str = "LATENCY",
        properties: Mapping[str, object] | None = None,
    ) -> None:
        ov = _import_openvino()
        if str(device) not in ("auto", "cpu"):
            raise BackendError(
                f"the openvino backend runs on the CPU, not {str(device)!r}; use onnxruntime or tensorrt on CUDA"
            )
        if precision not in PRECISIONS:
            raise BackendError(f"openvino precision {precision!r}; known: {', '.join(PRECISIONS)}")
        self.meta = read_onnx_meta(path)
        self.device = torch.device("cpu")
        core = ov.Core()
        self.precision = _choose_precision(precision, core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        if precision == "f32":
            self.name = "openvino-f32"
        config: dict[str, object] = {"INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": performance_hint}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        config.update(properties or {})
        t0 = time.perf_counter()
        try:
            model = core.read_model(str(path))
            per_channel_prelu_slopes(model)
            self.compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:  # OpenVINO raises RuntimeError with its own multi-line text
            raise BackendError(f"openvino cannot compile {path}: {one_line(exc)}") from None
        self.request = self.compiled.create_infer_request()
        self.warmup_s = time.perf_counter() - t0
        shape = self.compiled.input(INPUT_NAME).get_partial_shape()
        self.fixed_batch = shape[0].get_length() if shape[0].is_static else None

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.fixed_batch is None:
            return self._run(batch)
        return run_in_chunks(self._run, batch, self.fixed_batch)

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        results = self.request.infer({INPUT_NAME: batch}, share_inputs=True)
        prob, exist = (results[name] for name in OUTPUT_NAMES)
        return prob, exist


def per_channel_prelu_slopes(model) -> int:
    """Reshape every constant (C, 1, 1) PReLU slope of an OpenVINO model to (1, C, 1, 1), in place.

    The two broadcast identically against an (N, C, H, W) input; only the second lets the CPU
    plugin fuse the PReLU into its convolution (see the module docstring). Returns how many
    slopes were reshaped.
    """
    from openvino import opset13

    changed = 0
    for op in model.get_ops():
        if op.get_type_name() != "PRelu":
            continue
        slope = op.input(1).get_source_output().get_node()
        if slope.get_type_name() != "Constant" or op.input(0).get_partial_shape().rank.get_length() != 4:
            continue
        values = slope.get_data()
        if values.ndim != 3 or values.shape[1:] != (1, 1):
            continue
        op.input(1).replace_source_output(opset13.constant(values.reshape(1, -1, 1, 1)).output(0))
        changed += 1
    return changed


def _choose_precision(precision: str, capabilities: list[str]) -> str:
    """``bf16`` or ``f32`` for a requested precision and the CPU plugin's capabilities."""
    native = "BF16" in capabilities
    if precision == "bf16" and not native:
        raise BackendError("openvino bf16: this CPU has no native bfloat16 (needs AVX512-BF16 or AMX)")
    if precision == "auto":
        return "bf16" if native else "f32"
    return precision
