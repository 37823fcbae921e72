"""The lane detector the ROS node and ``lane-sad infer`` call: BGR image in, lanes out.

One code path for every backend and device: the same preprocessing (from the model's
metadata) and the same post-processing on the CPU; only the network call differs (see
:mod:`lane_sad_core.infer.backends`). Holds no ROS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lane_sad_core.data.preprocess import PreprocessConfig, preprocess
from lane_sad_core.errors import CheckpointError
from lane_sad_core.infer.backends import make_backend, torch_fallback_for
from lane_sad_core.infer.base import Backend, resolve_device
from lane_sad_core.infer.errors import BackendError
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps
from lane_sad_core.infer.temporal import LaneTracker, TemporalConfig
from lane_sad_core.infer.torch_backend import TorchBackend
from lane_sad_core.lanes import Lane
from lane_sad_core.models import LaneModel
from lane_sad_core.models.checkpoint import ModelMeta

log = logging.getLogger(__name__)

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


class LaneDetector:
    """Loads a model once and detects lanes in BGR frames.

    Args:
        checkpoint: a ``.pt`` checkpoint written by ``save_checkpoint``, or an exported
            ``.onnx`` / ``.engine`` file; None uses :data:`DEFAULT_CHECKPOINT`. A backend
            given a file of another kind runs the sibling of its own kind
            (``model.pt`` -> ``model.onnx``), see :func:`~lane_sad_core.infer.backends.make_backend`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        postprocess: decoding parameters; defaults to :class:`PostprocessConfig`.
        temporal: smoothing of lanes over a stream's frames
            (:class:`~lane_sad_core.infer.temporal.TemporalConfig`); None (the default) decodes
            every frame on its own. Only frames passed with a ``stamp`` are smoothed.
        backend: ``"torch"``, ``"onnxruntime"`` or ``"tensorrt"``. When it cannot load
            here and a ``.pt`` checkpoint is at hand (given, or beside the given file), the
            detector logs one warning naming the reason and runs the torch backend on that
            checkpoint instead, so a node configured for TensorRT still comes up on a
            machine without it; ``backend_name`` says what runs. Without a ``.pt`` to fall
            back to it raises.
        threads: CPU threads for the network (torch's intra-op pool, which is process-wide,
            or ONNX Runtime's); None or 0 keeps the runtime's default, one per core. On a
            small machine that other processes keep busy, 1 avoids OpenMP threads
            spin-waiting for a partner that is not scheduled (``bench/results/node.md``).
            TensorRT runs on the GPU and ignores it.

    Attributes:
        backend: what runs the network (:class:`~lane_sad_core.infer.backends.Backend`).
        backend_name: its name, after any fallback.
        tracker: the stream's lane tracker while temporal smoothing is on, else None
            (see :meth:`set_temporal`).
        model: the PyTorch network for the torch backend, else None.
        meta: the model's name, config, classes and preprocessing.
        num_slots: the model's lane slots, read from its file (``num_lanes``), never assumed.
        device: where the network runs.
        attention_blocks: blocks whose attention ``detect(..., with_attention=True)`` shows
            (the model's :attr:`~lane_sad_core.models.LaneModel.attention_blocks`). Only the
            torch backend computes attention: the exported graphs stop at the two outputs the
            lanes need, since attention is a debugging view and extra outputs would cost every
            frame a copy; other backends return ``attention=None`` (logged once).

    Raises:
        CheckpointError: the model file is missing (including the default one) or invalid.
        BackendError: the backend cannot load and there is no ``.pt`` to fall back to.
        ConfigError: unknown backend name.
    """

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        device: str = "auto",
        postprocess: PostprocessConfig | None = None,
        backend: str = "torch",
        threads: int | None = None,
        temporal: TemporalConfig | None = None,
    ) -> None:
        if checkpoint is None:
            if not DEFAULT_CHECKPOINT.is_file():
                raise CheckpointError(
                    f"no checkpoint given and the default weights {DEFAULT_CHECKPOINT} do not exist; "
                    "train a model with `lane-sad train` and pass its checkpoint"
                )
            checkpoint = DEFAULT_CHECKPOINT
        resolve_device(device)  # an unknown or absent device fails here, in one line, for every backend
        self._attach(_load_backend(backend, Path(checkpoint), device, threads), postprocess)
        self.set_temporal(temporal)

    @classmethod
    def from_model(
        cls, model: LaneModel, meta: ModelMeta, postprocess: PostprocessConfig | None = None
    ) -> LaneDetector:
        """A detector around a model already in memory (training validation), on its device."""
        detector = cls.__new__(cls)
        detector._attach(TorchBackend(model, meta), postprocess)
        return detector

    def _attach(self, backend: Backend, postprocess: PostprocessConfig | None) -> None:
        self.backend, self.meta, self.device = backend, backend.meta, backend.device
        self.backend_name = backend.name
        self.model = backend.model if isinstance(backend, TorchBackend) else None
        self.postprocess = postprocess or PostprocessConfig()
        self.attention_blocks = self.model.attention_blocks if self.model else ()
        self._warned_attention = False
        self.tracker: LaneTracker | None = None

    def set_temporal(self, temporal: TemporalConfig | None) -> None:
        """Switch temporal smoothing on (or retune it, keeping the tracks) or off (None)."""
        if temporal is None:
            self.tracker = None
        elif self.tracker is None:
            self.tracker = LaneTracker(temporal)
        else:
            self.tracker.cfg = temporal

    def reset_tracking(self) -> None:
        """Forget the stream's lanes: the next frame starts afresh (a new video, a restarted stream)."""
        if self.tracker is not None:
            self.tracker.reset()

    @property
    def num_slots(self) -> int:
        """Lane slots of the model (from its stored config; CULane's 4 for models that predate the key)."""
        return int(self.meta.model_config.get("num_lanes", 4))

    @property
    def preprocess(self) -> PreprocessConfig:
        """The preprocessing stored with the model."""
        return self.meta.preprocess

    def detect(
        self, image: np.ndarray, with_attention: bool = False, channels: str = "bgr", stamp: float | None = None
    ) -> Detection:
        """Lanes in one uint8 image: BGR (grey and BGRA are recognised), or the layout ``channels`` names.

        ``stamp``: the frame's time in seconds when it belongs to a stream: with temporal
        smoothing on, its lanes are smoothed with the stream's previous frames (a stamp
        earlier than the last one restarts the stream). None: a frame on its own.
        """
        return self.detect_batch([image], with_attention, channels, None if stamp is None else [stamp])[0]

    def detect_batch(
        self,
        images: Sequence[np.ndarray],
        with_attention: bool = False,
        channels: str = "bgr",
        stamps: Sequence[float] | None = None,
    ) -> list[Detection]:
        """Lanes in several images at once (one network call); timings are per batch.

        ``channels`` (a key of :data:`~lane_sad_core.data.preprocess.CHANNEL_ORDERS`) says
        how the pixels are laid out; colours are converted after resizing, so an RGB, BGRA or
        grey camera frame, even a view of a message buffer, is never copied at full size.
        ``stamps``: one per image, in stream order, to smooth them as :meth:`detect` does.
        """
        t0 = time.perf_counter()
        images = [np.asarray(image) for image in images]
        layouts = [_layout(image, channels) for image in images]
        pre = self.preprocess
        batch = np.empty((len(images), 3, pre.height, pre.width), np.float32)
        for image, layout, out in zip(images, layouts, batch):
            preprocess(image, pre, layout, out)
        t1 = time.perf_counter()
        prob, exist, attention = self._infer(batch, with_attention)
        t2 = time.perf_counter()
        lanes = [
            lanes_from_probmaps(p, e, image.shape[:2], self.preprocess, self.postprocess)
            for p, e, image in zip(prob, exist, images)
        ]
        if self.tracker is not None and stamps is not None:
            lanes = [self.tracker.update(ln, image.shape[:2], float(t)) for ln, image, t in zip(lanes, images, stamps)]
        t3 = time.perf_counter()
        timings = {"preprocess": 1e3 * (t1 - t0), "inference": 1e3 * (t2 - t1), "postprocess": 1e3 * (t3 - t2)}
        return [
            Detection(
                lanes[i],
                prob[i],
                exist[i],
                None if attention is None else {k: v[i] for k, v in attention.items()},
                dict(timings),
            )
            for i in range(len(images))
        ]

    def _infer(
        self, batch: np.ndarray, with_attention: bool
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray] | None]:
        if with_attention and isinstance(self.backend, TorchBackend):
            return self.backend.run_with_attention(batch, self.attention_blocks)
        if with_attention and not self._warned_attention:
            log.warning("attention maps need the torch backend; the %s backend returns none", self.backend_name)
            self._warned_attention = True
        prob, exist = self.backend.run(batch)
        return prob, exist, None


def _load_backend(name: str, checkpoint: Path, device: str, threads: int | None = None) -> Backend:
    """``make_backend``, falling back to torch on a ``.pt`` checkpoint when ``name`` cannot load."""
    try:
        return make_backend(name, checkpoint, device, **_thread_option(name, threads))
    except (BackendError, CheckpointError) as exc:
        fallback = torch_fallback_for(checkpoint) if name != "torch" else None
        if fallback is None:
            if name == "torch":
                raise
            raise type(exc)(f"{exc}; no .pt checkpoint beside {checkpoint} to fall back to") from None
        log.warning("backend %s unavailable: %s; falling back to torch with %s", name, exc, fallback)
        return make_backend("torch", fallback, device, **_thread_option("torch", threads))


def _thread_option(backend: str, threads: int | None) -> dict[str, int]:
    """The ``threads`` option for the backends that run on CPU threads (not TensorRT)."""
    return {"threads": int(threads)} if threads and backend != "tensorrt" else {}


_LAYOUT_CHANNELS = {"bgr": 3, "rgb": 3, "bgra": 4, "rgba": 4, "gray": 1}


def _layout(image: np.ndarray, channels: str) -> str:
    """The pixel layout of a uint8 image said to be ``channels`` (BGR input may also be grey or BGRA).

    Raises:
        ValueError: not uint8, an unknown layout, or a shape that does not fit it.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if channels not in _LAYOUT_CHANNELS:
        raise ValueError(f"unknown channel layout {channels!r}; known: {', '.join(_LAYOUT_CHANNELS)}")
    depth = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    if channels == "bgr" and depth in (1, 4):
        channels = "gray" if depth == 1 else "bgra"
    if depth != _LAYOUT_CHANNELS[channels]:
        raise ValueError(f"expected an (H, W, {_LAYOUT_CHANNELS[channels]}) {channels} image, got shape {image.shape}")
    return channels
