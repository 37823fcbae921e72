"""sensor_msgs/Image and CompressedImage <-> NumPy, without cv_bridge.

PyPI's cv_bridge is the 2020 ROS 1 code and fails under NumPy 2, and ROS 2's own has an
open NumPy 2 issue, so the node converts the common encodings itself. :func:`image_msg_view`
gives a *view* of the message buffer for every supported encoding (row padding included)
and names its pixel layout; the detector reads that layout directly and converts colours
only after resizing to the network's size, so a camera frame is never copied or converted
at full size on its way to the network. :func:`image_msg_to_bgr` makes the BGR copy that
drawing overlays needs.
"""

from __future__ import annotations

import array

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from lane_sad_core.data.imagesize import encoded_size
from lane_sad_core.errors import LaneSadError

# encoding -> (channels, the pixel layout's name in lane_sad_core.data.preprocess.CHANNEL_ORDERS)
ENCODINGS: dict[str, tuple[int, str]] = {
    "bgr8": (3, "bgr"),
    "rgb8": (3, "rgb"),
    "bgra8": (4, "bgra"),
    "rgba8": (4, "rgba"),
    "mono8": (1, "gray"),
}
# layout -> cv2 conversion to BGR (none for BGR itself)
TO_BGR: dict[str, int] = {
    "rgb": cv2.COLOR_RGB2BGR,
    "bgra": cv2.COLOR_BGRA2BGR,
    "rgba": cv2.COLOR_RGBA2BGR,
    "gray": cv2.COLOR_GRAY2BGR,
}

# Largest side accepted; beyond it a frame is refused rather than risking memory.
MAX_SIDE = 16384


class ImageConversionError(LaneSadError, ValueError):
    """The message cannot be read as an image; the text says why."""


def _check_size(width: int, height: int) -> None:
    if width == 0 or height == 0:
        raise ImageConversionError(f"empty image ({width}x{height})")
    if max(width, height) > MAX_SIDE:
        raise ImageConversionError(f"image too large ({width}x{height} > {MAX_SIDE})")


def _check_geometry(msg: Image, channels: int) -> None:
    _check_size(msg.width, msg.height)
    if msg.step < msg.width * channels:
        raise ImageConversionError(f"step {msg.step} is smaller than width*channels = {msg.width * channels}")
    if len(msg.data) < msg.step * msg.height:
        raise ImageConversionError(
            f"data has {len(msg.data)} bytes, step*height needs {msg.step * msg.height} (truncated)"
        )


def image_msg_view(msg: Image) -> tuple[np.ndarray, str]:
    """The pixels as a uint8 (H, W, C) view of ``msg.data`` (no copy) and their layout (``bgr``, ``rgb``, ...)."""
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported encoding '{msg.encoding}' (supported: {', '.join(ENCODINGS)})")
    channels, layout = ENCODINGS[msg.encoding]
    _check_geometry(msg, channels)
    buf = np.frombuffer(msg.data, dtype=np.uint8, count=msg.step * msg.height)
    rows = buf.reshape(msg.height, msg.step)[:, : msg.width * channels]
    return rows.reshape(msg.height, msg.width, channels), layout


def as_bgr(pixels: np.ndarray, layout: str) -> np.ndarray:
    """uint8 (H, W, 3) BGR from pixels in ``layout``: the pixels themselves for BGR, else a converted copy."""
    if layout == "bgr":
        return pixels
    return cv2.cvtColor(pixels[..., 0] if layout == "gray" and pixels.ndim == 3 else pixels, TO_BGR[layout])


def image_msg_to_bgr(msg: Image) -> np.ndarray:
    """The image as uint8 (H, W, 3) BGR; a view of ``msg.data`` for bgr8."""
    return as_bgr(*image_msg_view(msg))


def compressed_msg_to_bgr(msg: CompressedImage) -> np.ndarray:
    """Decode a ``CompressedImage`` (jpeg, png, ...) to uint8 (H, W, 3) BGR.

    The size limit of raw frames holds here too, checked in the JPEG or PNG header before
    decoding: a small compressed message can hold an image of gigabytes.
    """
    if len(msg.data) == 0:
        raise ImageConversionError("empty compressed image")
    data = bytes(msg.data)
    size = encoded_size(data)
    if size is not None:
        _check_size(size[1], size[0])
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageConversionError(f"could not decode compressed image (format '{msg.format}')")
    _check_size(image.shape[1], image.shape[0])
    return image


def bgr_to_image_msg(image: np.ndarray, header=None) -> Image:
    """A uint8 (H, W, 3) BGR array (or (H, W) mono) as an Image message."""
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = image.shape[:2]
    mono = image.ndim == 2
    msg.encoding = "mono8" if mono else "bgr8"
    msg.step = msg.width * (1 if mono else 3)
    # array.array, not bytes: Humble's rclpy checks a bytes assignment element by element
    # (~250 ms for a 720p frame); an array is taken as it is.
    msg.data = array.array("B", np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    return msg
