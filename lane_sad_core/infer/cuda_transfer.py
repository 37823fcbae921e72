"""A frame's trip to a CUDA device and back: pinned host buffers and one stream per backend.

From pageable NumPy memory, ``tensor.to("cuda", non_blocking=True)`` is a synchronous copy
through a staging buffer the driver allocates, every frame. Here the frame is written into
a page-locked (pinned) buffer allocated once, copied to the device asynchronously on the
backend's own stream, the network runs on that stream, and the outputs come back into
pinned buffers before one synchronisation: the copies overlap nothing else on the default
stream (e.g. another model in the same process) and allocate nothing per frame. The
TensorRT backend does the same with its own buffers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch


class PinnedStream:
    """Pinned host buffers, reused frame after frame, and one CUDA stream.

    Args:
        device: the CUDA device the network runs on.

    Attributes:
        stream: the stream every copy and kernel of a frame runs on.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self._host: dict[str, torch.Tensor] = {}

    def host_buffer(self, key: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """The pinned buffer ``key``, reallocated only when the shape or dtype changes."""
        buffer = self._host.get(key)
        if buffer is None or tuple(buffer.shape) != shape or buffer.dtype != dtype:
            buffer = self._host[key] = torch.empty(shape, dtype=dtype, pin_memory=True)
        return buffer

    @contextlib.contextmanager
    def frame(self) -> Iterator[None]:
        """Run the body on the stream; on leaving, wait for it (the pinned outputs are then complete).

        The stream first waits for the work already queued on the current stream, so a model
        whose weights were just updated there (validation during training) reads them done.
        """
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            yield
        self.stream.synchronize()

    def upload(self, batch: np.ndarray) -> torch.Tensor:
        """``batch`` on the device, through the pinned input buffer (call inside :meth:`frame`)."""
        host = self.host_buffer("input", batch.shape, torch.float32)
        host.numpy()[...] = batch
        return host.to(self.device, non_blocking=True)

    def download(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        """Start copying ``tensor`` into pinned buffer ``key`` (complete once :meth:`frame` exits)."""
        host = self.host_buffer(key, tuple(tensor.shape), tensor.dtype)
        host.copy_(tensor, non_blocking=True)
        return host
