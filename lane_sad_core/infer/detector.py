"""The lane detector the ROS node and ``lane-sad infer`` call: BGR image in, lanes out.

One code path for CPU and CUDA: the same preprocessing (from the checkpoint), the same
post-processing on the CPU; only the network runs on the device. Holds no ROS.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from lane_sad_core.data.preprocess import PreprocessConfig, preprocess
from lane_sad_core.distill.attention import attention_display
from lane_sad_core.distill.sad import SADConfig
from lane_sad_core.errors import CheckpointError
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps
from lane_sad_core.lanes import Lane
from lane_sad_core.models import LaneModel
from lane_sad_core.train.checkpoint import ModelMeta, load_model

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "enet_sad_default.pt"


@dataclass
class Detection:
    """Everything one detection produced.

    Attributes:
        lanes: lanes in source-image pixels.
        prob: (C, H, W) float32 class probabilities at network resolution.
        exist: (num_lanes,) float32 existence probabilities.
        attention: block name -> (H, W) float32 map in [0, 1] at network resolution, for
            the blocks SAD distils; None unless asked for.
        timings: milliseconds spent in ``preprocess``, ``inference`` and ``postprocess``.
    """

    lanes: list[Lane]
    prob: np.ndarray
    exist: np.ndarray
    attention: dict[str, np.ndarray] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; anything else is passed to torch."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class LaneDetector:
    """Loads a checkpoint once and detects lanes in BGR frames.

    Args:
        checkpoint: a checkpoint written by ``save_checkpoint``; None uses
            :data:`DEFAULT_CHECKPOINT`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        postprocess: decoding parameters; defaults to :class:`PostprocessConfig`.

    Attributes:
        model: the network, in eval mode on ``device``.
        meta: the checkpoint's model name, config, classes and preprocessing.
        attention_blocks: blocks whose attention ``detect(..., with_attention=True)`` shows
            (the ones SAD distils by default).

    Raises:
        CheckpointError: the checkpoint is missing (including the default one) or invalid.
    """

    def __init__(self, checkpoint: str | Path | None = None, device: str = "auto",
                 postprocess: PostprocessConfig | None = None) -> None:
        if checkpoint is None:
            if not DEFAULT_CHECKPOINT.is_file():
                raise CheckpointError(
                    f"no checkpoint given and the default weights {DEFAULT_CHECKPOINT} do not exist; "
                    "train a model with `lane-sad train` and pass its checkpoint"
                )
            checkpoint = DEFAULT_CHECKPOINT
        self.device = resolve_device(device)
        model, meta = load_model(checkpoint, self.device)
        self._attach(model, meta, postprocess)

    @classmethod
    def from_model(cls, model: LaneModel, meta: ModelMeta, postprocess: PostprocessConfig | None = None
                   ) -> LaneDetector:
        """A detector around a model already in memory (training validation), on its device."""
        detector = cls.__new__(cls)
        detector.device = next(model.parameters()).device
        detector._attach(model, meta, postprocess)
        return detector

    def _attach(self, model: LaneModel, meta: ModelMeta, postprocess: PostprocessConfig | None) -> None:
        self.model, self.meta = model, meta
        self.postprocess = postprocess or PostprocessConfig()
        self.attention_blocks = SADConfig.for_blocks(self.model.block_names).blocks

    @property
    def preprocess(self) -> PreprocessConfig:
        """The preprocessing stored with the checkpoint."""
        return self.meta.preprocess

    def detect(self, image_bgr: np.ndarray, with_attention: bool = False) -> Detection:
        """Lanes in one uint8 BGR (or grey / BGRA) image."""
        return self.detect_batch([image_bgr], with_attention)[0]

    def detect_batch(self, images_bgr: Sequence[np.ndarray], with_attention: bool = False) -> list[Detection]:
        """Lanes in several images at once (one network call); timings are per batch."""
        t0 = time.perf_counter()
        images = [_as_bgr(image) for image in images_bgr]
        batch = torch.from_numpy(np.stack([preprocess(image, self.preprocess) for image in images]))
        t1 = time.perf_counter()
        prob, exist, attention = self._infer(batch, with_attention)
        t2 = time.perf_counter()
        lanes = [lanes_from_probmaps(p, e, image.shape[:2], self.preprocess, self.postprocess)
                 for p, e, image in zip(prob, exist, images)]
        t3 = time.perf_counter()
        timings = {"preprocess": 1e3 * (t1 - t0), "inference": 1e3 * (t2 - t1), "postprocess": 1e3 * (t3 - t2)}
        return [
            Detection(lanes[i], prob[i], exist[i],
                      None if attention is None else {k: v[i] for k, v in attention.items()}, dict(timings))
            for i in range(len(images))
        ]

    @torch.inference_mode()
    def _infer(self, batch: torch.Tensor, with_attention: bool
               ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray] | None]:
        x = batch.to(self.device, non_blocking=True)
        if with_attention:
            outputs, blocks = self.model.forward_blocks(x, self.attention_blocks)
        else:
            outputs, blocks = self.model(x), {}
        prob = torch.softmax(outputs["seg"].float(), dim=1).cpu().numpy()
        exist = torch.sigmoid(outputs["exist"].float()).cpu().numpy()
        if not with_attention:
            return prob, exist, None
        size = tuple(x.shape[-2:])
        attention = {name: attention_display(act, size).cpu().numpy() for name, act in blocks.items()}
        return prob, exist, attention


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """uint8 BGR from BGR, BGRA or single-channel input; anything else is refused."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected an (H, W, 3) BGR image, got shape {image.shape}")
