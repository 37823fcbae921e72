"""ONNX Runtime backend: an exported ``.onnx`` file on the CPU or CUDA execution provider.

See :mod:`lane_sad_core.infer.backends` for which file each backend runs and how one is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lane_sad_core.export.onnx import INPUT_NAME, OUTPUT_NAMES, read_onnx_meta
from lane_sad_core.infer.base import run_in_chunks
from lane_sad_core.infer.errors import BackendError


class OnnxRuntimeBackend:
    """An exported ``.onnx`` file in ONNX Runtime, with all graph optimisations on.

    The CUDA execution provider is used for ``device`` ``cuda``/``cuda:N``, and for
    ``auto`` when this onnxruntime build has it; otherwise the CPU provider.

    Args:
        path: ONNX file written by :func:`lane_sad_core.export.onnx.export_onnx`.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        threads: intra-op threads (None: onnxruntime's default, one per physical core).

    Raises:
        BackendError: onnxruntime is missing, or CUDA was asked for and is not available.
        CheckpointError: the file is missing, not ONNX, or lacks lane_sad metadata.
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, device: str | torch.device = "auto", threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError("onnxruntime is not installed (pip install onnxruntime)") from None
        self.meta = read_onnx_meta(path)
        self.device, providers = _ort_providers(str(device), ort.get_available_providers())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime's own exception types
            raise BackendError(f"onnxruntime cannot load {path}: {type(exc).__name__}: {exc}") from None
        self._input, self._outputs = INPUT_NAME, list(OUTPUT_NAMES)
        batch_dim = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) else None

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.fixed_batch is None:
            return self._run(batch)
        return run_in_chunks(self._run, batch, self.fixed_batch)

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prob, exist = self.session.run(self._outputs, {self._input: batch})
        return prob, exist


def _ort_providers(device: str, available: Sequence[str]) -> tuple[torch.device, list]:
    """The torch.device a session runs on and its provider list, for a device string."""
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cpu":
        return torch.device("cpu"), ["CPUExecutionProvider"]
    if device == "auto" and not has_cuda:
        return torch.device("cpu"), ["CPUExecutionProvider"]
    target = torch.device("cuda" if device == "auto" else device)
    if target.type != "cuda":
        raise BackendError(f"onnxruntime backend: unsupported device {device!r}; use auto, cpu, cuda or cuda:N")
    if not has_cuda:
        raise BackendError(
            f"onnxruntime here has no CUDAExecutionProvider (providers: {', '.join(available)}); "
            "install onnxruntime-gpu or use device cpu"
        )
    cuda = ("CUDAExecutionProvider", {"device_id": target.index or 0})
    return target, [cuda, "CPUExecutionProvider"]
