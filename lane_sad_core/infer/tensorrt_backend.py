"""TensorRT engines on a CUDA device (Jetson, workstation): the fast path of the node.

Everything a frame needs is allocated once, when the engine loads: device buffers for the
input and both outputs at the engine's largest batch, page-locked (pinned) host buffers of
the same sizes, and one CUDA stream. A frame is then: copy into the pinned input, one
host-to-device copy, ``execute_async_v3``, two device-to-host copies, one stream
synchronisation; no allocation on the device and no pageable transfers. Buffers are torch
CUDA tensors (torch is already a dependency and owns the CUDA context), so no pycuda or
cuda-python is needed. A few warm-up runs at load time take TensorRT's lazy
initialisation and the first-run kernel selection out of the first real frame.

Requires TensorRT >= 8.5 (the name-based tensor API and ``execute_async_v3``: JetPack 5.1
and later) and a CUDA build of torch. Not exercised by this repository's tests, which run
on a machine without either; see docs/export.md and docs/jetson.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lane_sad_core.errors import CheckpointError
from lane_sad_core.export.metadata import read_sidecar
from lane_sad_core.export.onnx import INPUT_NAME, OUTPUT_NAMES
from lane_sad_core.infer.base import run_in_chunks
from lane_sad_core.infer.errors import BackendError


def _import_tensorrt():
    """The ``tensorrt`` module, or BackendError saying it is missing here."""
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(
            f"TensorRT is not installed here ({exc}); the tensorrt backend runs on a CUDA machine "
            "with TensorRT (e.g. a Jetson); use onnxruntime or torch elsewhere"
        ) from None
    return tensorrt


class TensorRTBackend:
    """A serialised TensorRT engine (``.engine``, with its ``.engine.json`` metadata).

    Args:
        engine_path: engine built by ``lane-sad export --format tensorrt`` on this device
            type with this TensorRT version (engines are not portable).
        device: ``auto`` / ``cuda`` / ``cuda:N``.
        warmup: runs on a zero batch before the backend is returned.

    Raises:
        BackendError: TensorRT or CUDA is missing, the device is not CUDA, or the engine
            does not deserialise or lacks the ``image`` / ``prob`` / ``exist`` tensors.
        CheckpointError: the engine or its metadata file is missing.
    """

    name = "tensorrt"

    def __init__(self, engine_path: str | Path, device: str | torch.device = "auto", warmup: int = 3) -> None:
        trt = _import_tensorrt()
        path = Path(engine_path)
        self.device = _cuda_device(device)
        if not path.is_file():
            raise CheckpointError(f"TensorRT engine not found: {path}")
        self.meta = read_sidecar(path)
        with torch.cuda.device(self.device):
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                raise BackendError(
                    f"TensorRT cannot deserialise {path} (see its log above); engines only load with the "
                    "TensorRT version and GPU type they were built on: rebuild it here"
                )
            self.context = self.engine.create_execution_context()
            if not hasattr(self.context, "execute_async_v3"):
                raise BackendError(f"TensorRT {trt.__version__} is older than 8.5; the backend needs 8.5+")
            self.stream = torch.cuda.Stream(self.device)
            self._allocate(trt)
            self._bound_batch = self.max_batch
            for _ in range(warmup):
                self._run(np.zeros(self._host[INPUT_NAME].shape, np.float32))

    def _allocate(self, trt) -> None:
        """Device and pinned host buffers at the largest batch, bound to the context once."""
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        missing = sorted({INPUT_NAME, *OUTPUT_NAMES}.difference(names))
        if missing:
            raise BackendError(f"engine has tensors {names}, lacks {missing}; export it with `lane-sad export`")
        shape = tuple(self.engine.get_tensor_shape(INPUT_NAME))
        self.dynamic = shape[0] == -1
        self.max_batch = _profile_max(self.engine, INPUT_NAME)[0] if self.dynamic else shape[0]
        self._input_rest = shape[1:]
        self.context.set_input_shape(INPUT_NAME, (self.max_batch, *self._input_rest))
        self._device: dict[str, torch.Tensor] = {}
        self._host: dict[str, torch.Tensor] = {}
        for name in (INPUT_NAME, *OUTPUT_NAMES):
            dims = tuple(self.context.get_tensor_shape(name))
            dtype = torch.from_numpy(np.empty(0, trt.nptype(self.engine.get_tensor_dtype(name)))).dtype
            self._device[name] = torch.empty(dims, dtype=dtype, device=self.device)
            self._host[name] = torch.empty(dims, dtype=dtype, pin_memory=True)
            self.context.set_tensor_address(name, self._device[name].data_ptr())

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.dynamic and batch.shape[0] <= self.max_batch:
            return self._run(batch)
        return run_in_chunks(self._run, batch, self.max_batch)

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = batch.shape[0]
        self._host[INPUT_NAME][:n].numpy()[...] = batch  # casts when the engine takes FP16 input
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            self._device[INPUT_NAME][:n].copy_(self._host[INPUT_NAME][:n], non_blocking=True)
            if self.dynamic and n != self._bound_batch:
                self.context.set_input_shape(INPUT_NAME, (n, *self._input_rest))
                self._bound_batch = n
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise BackendError("TensorRT execution failed (see its log above)")
            for name in OUTPUT_NAMES:
                self._host[name][:n].copy_(self._device[name][:n], non_blocking=True)
        self.stream.synchronize()
        # The pinned buffers are reused by the next frame: hand the caller its own arrays.
        prob, exist = (self._host[name][:n].numpy().astype(np.float32, copy=True) for name in OUTPUT_NAMES)
        return prob, exist


def _cuda_device(device: str | torch.device) -> torch.device:
    if not torch.cuda.is_available():
        raise BackendError("the tensorrt backend needs a CUDA device and torch sees none here")
    target = torch.device("cuda" if str(device) == "auto" else device)
    if target.type != "cuda":
        raise BackendError(f"the tensorrt backend runs on CUDA devices only, not {device!r}")
    return target


def _profile_max(engine, name: str) -> tuple[int, ...]:
    """The largest shape of optimisation profile 0 (TensorRT 10 and 8.x spellings)."""
    if hasattr(engine, "get_tensor_profile_shape"):
        return tuple(engine.get_tensor_profile_shape(name, 0)[2])
    return tuple(engine.get_profile_shape(0, name)[2])
