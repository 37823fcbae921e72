"""What runs the network: PyTorch, ONNX Runtime, OpenVINO or TensorRT behind one small protocol.

A backend takes the preprocessed batch, (B, 3, H, W) float32 as
:func:`lane_sad_core.data.preprocess.preprocess` makes it, and returns the two arrays
the post-processing reads: ``prob`` (B, C, H, W) class probabilities and ``exist``
(B, L) existence probabilities, float32 NumPy arrays the caller owns. Everything before
and after (preprocessing, decoding lanes) is the detector's and is the same for all.

Which file each backend runs:

================== ================================ ==============================================
backend            model file                       made by
================== ================================ ==============================================
torch              ``.pt`` checkpoint               ``lane-sad train``
torch-compile      ``.pt`` checkpoint               compiled at load (``torch.compile``, cached)
torch-compile-bf16 ``.pt`` checkpoint               the same, network in bfloat16
onnxruntime        ``.onnx``                        ``lane-sad export --format onnx``
openvino           ``.onnx``                        the same; bfloat16 where the CPU has it
openvino-f32       ``.onnx``                        the same, always float32
tensorrt           ``.engine`` (+ ``.engine.json``)  ``lane-sad export --format tensorrt`` (on the target)
================== ================================ ==============================================

Given a file of another kind, :func:`make_backend` looks for the file of the same stem
with the backend's suffix beside it (``model.pt`` -> ``model.onnx``), so one checkpoint
path serves them all once the exports sit next to it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from lane_sad_core.distill.attention import attention_display
from lane_sad_core.errors import ConfigError, LaneSadError
from lane_sad_core.infer.cuda_transfer import PinnedStream
from lane_sad_core.models import LaneModel
from lane_sad_core.train.checkpoint import ModelMeta, load_model

BACKENDS = ("torch", "torch-compile", "torch-compile-bf16", "onnxruntime", "openvino", "openvino-f32", "tensorrt")
# The torch-based backends and the options each gives CompiledTorchBackend (None: eager).
_TORCH_KINDS: dict[str, dict[str, bool] | None] = {
    "torch": None,
    "torch-compile": {"bf16": False},
    "torch-compile-bf16": {"bf16": True},
}
SUFFIXES: dict[str, tuple[str, ...]] = {
    **{name: (".pt", ".pth") for name in _TORCH_KINDS},
    "onnxruntime": (".onnx",),
    "openvino": (".onnx",),
    "openvino-f32": (".onnx",),
    "tensorrt": (".engine", ".plan"),
}
_RUNTIME_MODULES = {
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "openvino-f32": "openvino",
    "tensorrt": "tensorrt",
}
_ONNX_HINT = "create it with `lane-sad export --checkpoint {pt} --format onnx --out {want}`"
_MAKE_HINT = {
    **{name: "train one with `lane-sad train`" for name in _TORCH_KINDS},
    "onnxruntime": _ONNX_HINT,
    "openvino": _ONNX_HINT,
    "openvino-f32": _ONNX_HINT,
    "tensorrt": ("build it on the target with `lane-sad export --checkpoint {pt} --format tensorrt --out {want}`"),
}


class BackendError(LaneSadError):
    """A backend cannot load here: runtime not installed, no such device, no model file."""


@runtime_checkable
class Backend(Protocol):
    """Runs the network on preprocessed batches.

    Attributes:
        name: one of :data:`BACKENDS`.
        meta: model name, config, classes and preprocessing of the loaded model.
        device: where the network runs.
    """

    name: str
    meta: ModelMeta
    device: torch.device

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, H, W) float32 -> ``prob`` (B, C, H, W), ``exist`` (B, L), float32."""
        ...


class TorchBackend:
    """The PyTorch model itself, on the CPU or a CUDA device; the only one with attention maps.

    Args:
        model: the network (moved to eval mode; it stays on its device).
        meta: its checkpoint metadata.
        channels_last: run in NHWC memory format (often faster for convolutions on recent
            CPUs and on tensor cores; measured in ``bench/bench_backends.py``).
        threads: ``torch.set_num_threads`` for the CPU; note it is process-wide.

    Attributes:
        transfer: on a CUDA device, the pinned buffers and the one stream every frame goes
            through (:class:`~lane_sad_core.infer.cuda_transfer.PinnedStream`); None on the CPU.
    """

    name = "torch"

    def __init__(
        self, model: LaneModel, meta: ModelMeta, *, channels_last: bool = False, threads: int | None = None
    ) -> None:
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.model = model.eval()
        self.meta = meta
        self.device = next(model.parameters()).device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.transfer = PinnedStream(self.device) if self.device.type == "cuda" else None

    @classmethod
    def load(cls, checkpoint: str | Path, device: str | torch.device = "auto", **options: object) -> TorchBackend:
        """A backend for a ``.pt`` checkpoint; ``options`` as the constructor's."""
        from lane_sad_core.infer.detector import resolve_device

        model, meta = load_model(checkpoint, resolve_device(device))
        return cls(model, meta, **options)  # type: ignore[arg-type]

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prob, exist, _ = self.run_with_attention(batch, ())
        return prob, exist

    @torch.inference_mode()
    def run_with_attention(
        self, batch: np.ndarray, blocks: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray] | None]:
        """:meth:`run` plus the attention display maps of ``blocks`` (None when none asked)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.transfer is None:
            arrays = {k: v.numpy() for k, v in self._forward(torch.from_numpy(batch), blocks).items()}
        else:
            with self.transfer.frame():
                outputs = self._forward(self.transfer.upload(batch), blocks)
                hosts = {k: self.transfer.download(k, v) for k, v in outputs.items()}
            arrays = {k: v.numpy().copy() for k, v in hosts.items()}  # the pinned buffers serve the next frame
        prob, exist = arrays.pop("prob"), arrays.pop("exist")
        return prob, exist, arrays if blocks else None

    def _forward(self, x: torch.Tensor, blocks: Sequence[str]) -> dict[str, torch.Tensor]:
        """``prob``, ``exist`` and the attention display map of each of ``blocks``, on the model's device."""
        x = x.contiguous(memory_format=self.memory_format)
        if blocks:
            outputs, acts = self.model.forward_blocks(x, blocks)
        else:
            outputs, acts = self.model(x), {}
        size = (x.shape[-2], x.shape[-1])
        return {
            "prob": torch.softmax(outputs["seg"].float(), dim=1),
            "exist": torch.sigmoid(outputs["exist"].float()),
            **{name: attention_display(a, size) for name, a in acts.items()},
        }


class CompiledTorchBackend(TorchBackend):
    """The PyTorch model compiled by ``torch.compile`` (inductor) with frozen weights.

    Freezing turns the weights into constants, so inductor folds every BatchNorm into its
    convolution, pre-packs the convolution weights for oneDNN and fuses the elementwise
    tail of each block (PReLU, residual sums, unpooling masks, softmax) into generated C++
    loops; on a 2-core CPU this runs ENet-SAD at 288x800 2.2x as fast as eager, 2.5x with
    ``bf16`` (``bench/results/backends.md``). With ``bf16`` the network runs under bfloat16
    autocast and the softmax and sigmoid in float32, on CPUs with native bfloat16
    (AVX512-BF16 or AMX) or CUDA.

    Compilation happens here, on one zero frame of the model's input size, so the first
    real frame is not the slow one: about a minute the first time on a 2-core CPU, 10-30 s
    later (inductor caches its code, by default in ``/tmp/torchinductor_$USER``).
    The compiled graph is for batch 1; larger batches run frame by frame, which costs
    nothing on a CPU and avoids a recompilation per batch size. Attention maps
    (:meth:`run_with_attention`) come from the eager model.

    Args:
        model, meta, threads: as :class:`TorchBackend`. Inductor bakes the thread count
            into its code, so set it here, not later.
        bf16: run the network in bfloat16.

    Attributes:
        warmup_s: seconds the compilation and first call took.

    Raises:
        BackendError: bfloat16 is not native here, or compilation failed (inductor needs a
            C++ compiler for the CPU); the message gives the first line of the reason.
    """

    name = "torch-compile"

    def __init__(self, model: LaneModel, meta: ModelMeta, *, bf16: bool = False, threads: int | None = None) -> None:
        super().__init__(model, meta, threads=threads)
        if bf16 and not has_native_bf16(self.device):
            raise BackendError(
                f"torch-compile-bf16: no native bfloat16 on {self.device} (needs AVX512-BF16 or AMX on a CPU, or CUDA)"
            )
        if bf16:
            self.name = "torch-compile-bf16"
        self.bf16 = bf16
        self._compiled = torch.compile(_Probabilities(self.model), dynamic=False, options={"freezing": True})
        t0 = time.perf_counter()
        try:
            self._run_one(np.zeros((1, 3, meta.preprocess.height, meta.preprocess.width), np.float32))
        except Exception as exc:  # inductor raises many types (compiler missing, codegen, ...)
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise BackendError(f"torch.compile failed on {self.device}: {type(exc).__name__}: {reason}") from None
        self.warmup_s = time.perf_counter() - t0

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return run_in_chunks(self._run_one, np.asarray(batch, dtype=np.float32), 1)

    @torch.inference_mode()
    def _run_one(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            prob, exist = self._compiled(x)
        return prob.cpu().numpy(), exist.cpu().numpy()


class _Probabilities(nn.Module):
    """The network, then softmax and sigmoid in float32 (whatever precision the network ran in).

    :class:`~lane_sad_core.export.onnx.ProbabilityModel` without the casts, which would be
    no-op Cast nodes in every exported graph.
    """

    def __init__(self, model: LaneModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = self.model(image)
        return torch.softmax(outputs["seg"].float(), dim=1), torch.sigmoid(outputs["exist"].float())


def has_native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively (not emulated, which is slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


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
        from lane_sad_core.export.onnx import INPUT_NAME, OUTPUT_NAMES, read_onnx_meta

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


def make_backend(name: str, model_path: str | Path, device: str | torch.device = "auto", **options: object) -> Backend:
    """Load ``model_path`` (or the file of the backend's kind beside it) into backend ``name``.

    Args:
        name: one of :data:`BACKENDS`.
        model_path: a ``.pt``, ``.onnx`` or ``.engine`` file; see the module docstring.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        options: passed to the backend's constructor (e.g. ``threads``, ``channels_last``
            for torch).

    Raises:
        ConfigError: unknown backend name.
        BackendError: the backend cannot load here (the message says why).
        CheckpointError: the model file is missing or invalid.
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    _require_runtime(name)
    path = model_file_for(name, model_path)
    if name in _TORCH_KINDS:
        kind = _TORCH_KINDS[name]
        if kind is None:
            return TorchBackend.load(path, device, **options)
        return CompiledTorchBackend.load(path, device, **kind, **options)
    if name == "onnxruntime":
        return OnnxRuntimeBackend(path, device, **options)  # type: ignore[arg-type]
    if name.startswith("openvino"):
        from lane_sad_core.infer.openvino_backend import OpenVINOBackend

        precision = "f32" if name == "openvino-f32" else "auto"
        return OpenVINOBackend(path, device, precision=precision, **options)  # type: ignore[arg-type]
    from lane_sad_core.infer.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(path, device, **options)  # type: ignore[arg-type]


def model_file_for(name: str, model_path: str | Path) -> Path:
    """The file backend ``name`` runs for ``model_path``: itself, or its sibling of the right kind.

    Raises:
        BackendError: neither ``model_path`` nor a sibling has the backend's suffix.
    """
    path = Path(model_path)
    suffixes = SUFFIXES[name]
    if path.suffix.lower() in suffixes:
        return path
    for suffix in suffixes:
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    want = path.with_suffix(suffixes[0])
    hint = _MAKE_HINT[name].format(pt=path.with_suffix(".pt"), want=want)
    raise BackendError(f"backend {name} runs a {'/'.join(suffixes)} file and there is no {want}; {hint}")


def torch_fallback_for(model_path: str | Path) -> Path | None:
    """The ``.pt`` checkpoint to fall back to for ``model_path``, when one exists."""
    try:
        path = model_file_for("torch", model_path)
    except BackendError:
        return None
    return path if path.is_file() else None


def _require_runtime(name: str) -> None:
    """BackendError when the Python package backend ``name`` runs on is not installed.

    Checked before looking for model files, so the first reason given is the one that no
    file can fix.
    """
    module = _RUNTIME_MODULES.get(name)
    if module and importlib.util.find_spec(module) is None:
        where = (
            "; build and run engines on a CUDA machine with TensorRT (e.g. the Jetson)"
            if name == "tensorrt"
            else f" (pip install {module})"
        )
        raise BackendError(f"{module} is not installed here{where}")


def run_in_chunks(
    run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], batch: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Run a network of fixed batch ``size`` on any batch: whole chunks, the last one zero-padded."""
    if batch.shape[0] == size:
        return run(batch)
    probs, exists = [], []
    for start in range(0, batch.shape[0], size):
        chunk = batch[start : start + size]
        n = chunk.shape[0]
        if n < size:
            chunk = np.concatenate([chunk, np.zeros((size - n, *chunk.shape[1:]), chunk.dtype)])
        prob, exist = run(chunk)
        probs.append(prob[:n])
        exists.append(exist[:n])
    return np.concatenate(probs), np.concatenate(exists)


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
