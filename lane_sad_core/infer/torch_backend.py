"""The PyTorch backends: the eager model (the only one with attention maps) and ``torch.compile``.

See :mod:`lane_sad_core.infer.backends` for which file each backend runs and how one is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lane_sad_core.distill.attention import attention_display
from lane_sad_core.infer.base import resolve_device, run_in_chunks
from lane_sad_core.infer.cuda_transfer import PinnedStream
from lane_sad_core.infer.errors import BackendError
from lane_sad_core.models import LaneModel
from lane_sad_core.models.checkpoint import ModelMeta, load_model


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
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit it
        self.transfer = PinnedStream(self.device) if self.device.type == "cuda" else None

    @classmethod
    def load(cls, checkpoint: str | Path, device: str | torch.device = "auto", **options: object) -> TorchBackend:
        """A backend for a ``.pt`` checkpoint; ``options`` as the constructor's."""
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
