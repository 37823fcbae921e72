"""Image preprocessing shared by training, offline inference and the ROS node.

One definition of crop, resize and normalisation, so that a model sees the same input
wherever it runs, and one pair of coordinate maps between the source image and the
network input, so that lanes are always reported in source pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import cv2
import numpy as np

from lane_sad_core.plain import PositiveFloat, PositiveInt, Range

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class PreprocessConfig:
    """How a source image becomes a network input.

    Attributes:
        width, height: network input size (CULane 800x288, TuSimple 640x368 in the paper).
        crop_top: fraction of the source height cut from the top (sky) before resizing.
        mean, std: per-channel RGB normalisation of [0, 1] pixel values.
    """

    width: PositiveInt = 800
    height: PositiveInt = 288
    crop_top: Annotated[float, Range(0, 1, high_open=True)] = 0.0
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = field(default=IMAGENET_STD)


def crop_rows(src_height: int, cfg: PreprocessConfig) -> int:
    """Number of source rows removed from the top."""
    return round(src_height * cfg.crop_top)


def resize_for_network(image_bgr: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Crop the top and resize to the network size; still uint8 BGR (for augmentation)."""
    top = crop_rows(image_bgr.shape[0], cfg)
    cropped = image_bgr[top:]
    return cv2.resize(cropped, (cfg.width, cfg.height), interpolation=cv2.INTER_LINEAR)


# Pixel layouts a camera delivers -> which of their planes hold R, G and B. The detector
# converts colours after resizing (plane picking commutes with interpolation), so a frame in
# any of these layouts is read straight from the camera's buffer, never converted at full size.
CHANNEL_ORDERS: dict[str, tuple[int, int, int]] = {
    "bgr": (2, 1, 0),
    "rgb": (0, 1, 2),
    "bgra": (2, 1, 0),
    "rgba": (0, 1, 2),
    "gray": (0, 0, 0),
}


def normalize(
    resized: np.ndarray, cfg: PreprocessConfig, channels: str = "bgr", out: np.ndarray | None = None
) -> np.ndarray:
    """uint8 (H, W, C) at network size to float32 RGB (3, H, W), normalised.

    Plane by plane (one contiguous uint8 plane, one scale and one shift each, written in
    place): a third of the time of converting the interleaved image as a whole and
    transposing it, which on the node's path is time added to every frame.

    Args:
        resized: the image at network size, in the pixel layout ``channels`` names.
        cfg: the normalisation.
        channels: a key of :data:`CHANNEL_ORDERS`.
        out: a float32 (3, H, W) array to write into (e.g. one frame of a batch); new if None.
    """
    scale = 1.0 / (255.0 * np.asarray(cfg.std, dtype=np.float32))
    shift = -np.asarray(cfg.mean, dtype=np.float32) / np.asarray(cfg.std, dtype=np.float32)
    planes = cv2.split(resized) if resized.ndim == 3 else [resized]
    if out is None:
        out = np.empty((3, *resized.shape[:2]), np.float32)
    for dst, index, s, o in zip(out, CHANNEL_ORDERS[channels], scale, shift):
        np.multiply(planes[index], s, out=dst, dtype=np.float32, casting="unsafe")
        dst += o
    return out


def preprocess(
    image: np.ndarray, cfg: PreprocessConfig, channels: str = "bgr", out: np.ndarray | None = None
) -> np.ndarray:
    """A source uint8 image (BGR, or the layout ``channels`` names) to the float32 (3, H, W) network input."""
    return normalize(resize_for_network(image, cfg), cfg, channels, out)


def source_to_network(points: np.ndarray, src_shape: tuple[int, int], cfg: PreprocessConfig) -> np.ndarray:
    """Map (N, 2) source-pixel (x, y) points to network-input pixels."""
    src_h, src_w = src_shape[:2]
    top = crop_rows(src_h, cfg)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sx = cfg.width / src_w
    sy = cfg.height / (src_h - top)
    return np.stack([pts[:, 0] * sx, (pts[:, 1] - top) * sy], axis=1)


def network_to_source(points: np.ndarray, src_shape: tuple[int, int], cfg: PreprocessConfig) -> np.ndarray:
    """Map (N, 2) network-input (x, y) points back to source-image pixels."""
    src_h, src_w = src_shape[:2]
    top = crop_rows(src_h, cfg)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sx = src_w / cfg.width
    sy = (src_h - top) / cfg.height
    return np.stack([pts[:, 0] * sx, pts[:, 1] * sy + top], axis=1)
