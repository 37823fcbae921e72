"""What every backend offers, and the helpers they share.

A backend takes the preprocessed batch, (B, 3, H, W) float32 as
:func:`lane_sad_core.data.preprocess.preprocess` makes it, and returns the two arrays
the post-processing reads: ``prob`` (B, C, H, W) class probabilities and ``exist``
(B, L) existence probabilities, float32 NumPy arrays the caller owns. Everything before
and after (preprocessing, decoding lanes) is the detector's and is the same for all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from lane_sad_core.infer.errors import BackendError
from lane_sad_core.models.checkpoint import ModelMeta


@runtime_checkable
class Backend(Protocol):
    """Runs the network on preprocessed batches.

    Attributes:
        name: one of :data:`lane_sad_core.infer.backends.BACKENDS`.
        meta: model name, config, classes and preprocessing of the loaded model.
        device: where the network runs.
    """

    name: str
    meta: ModelMeta
    device: torch.device

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, H, W) float32 -> ``prob`` (B, C, H, W), ``exist`` (B, L), float32."""
        ...


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; ``cpu``, ``cuda`` and ``cuda:N`` are checked.

    Raises:
        BackendError: an unknown device name, or a CUDA device this machine does not have
            (checked here, in one line, instead of failing inside torch on the first tensor).
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise BackendError(f"unknown device {str(device)!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type not in ("cpu", "cuda"):
        raise BackendError(f"device {str(device)!r} is not supported; use auto, cpu, cuda or cuda:N")
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise BackendError(f"device {str(device)!r}: CUDA is not available on this machine; use cpu or auto")
        if (resolved.index or 0) >= count:
            raise BackendError(f"device {str(device)!r}: this machine has {count} CUDA device(s) (cuda:0..{count - 1})")
    return resolved


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
