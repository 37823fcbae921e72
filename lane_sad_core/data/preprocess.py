"""Image preprocessing shared by training, offline inference and the ROS node.

One definition of crop, resize and normalisation, so that a model sees the same input
wherever it runs, and one pair of coordinate maps between the source image and the
network input, so that lanes are always reported in source pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

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

    width: int = 800
    height: int = 288
    crop_top: float = 0.0
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)


def crop_rows(src_height: int, cfg: PreprocessConfig) -> int:
    """Number of source rows removed from the top."""
    return round(src_height * cfg.crop_top)


def resize_for_network(image_bgr: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Crop the top and resize to the network size; still uint8 BGR (for augmentation)."""
    top = crop_rows(image_bgr.shape[0], cfg)
    cropped = image_bgr[top:]
    return cv2.resize(cropped, (cfg.width, cfg.height), interpolation=cv2.INTER_LINEAR)


def normalize(resized_bgr: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """uint8 BGR (H, W, 3) at network size to float32 RGB (3, H, W), normalised.

    Plane by plane (one contiguous uint8 plane, one fused scale-and-shift each): a third of
    the time of converting the interleaved image as a whole and transposing it, which on the
    node's path is time added to every frame.
    """
    scale = 1.0 / (255.0 * np.asarray(cfg.std, dtype=np.float32))
    shift = -np.asarray(cfg.mean, dtype=np.float32) / np.asarray(cfg.std, dtype=np.float32)
    rgb_planes = cv2.split(resized_bgr)[::-1]
    return np.stack([plane.astype(np.float32) * s + o for plane, s, o in zip(rgb_planes, scale, shift)])


def preprocess(image_bgr: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """A source uint8 BGR image to the float32 (3, H, W) network input."""
    return normalize(resize_for_network(image_bgr, cfg), cfg)


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
