"""Image sizes from file headers, without decoding the pixels.

Loaders need each frame's source size (to place lanes in slots and to map network
outputs back) long before, or without, decoding it; reading the JPEG or PNG header costs
microseconds instead of milliseconds.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO

import cv2

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_JPEG_SOF = {m for m in range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _jpeg_size(handle: BinaryIO) -> tuple[int, int] | None:
    if handle.read(2) != b"\xff\xd8":
        return None
    while True:
        byte = handle.read(1)
        while byte and byte != b"\xff":
            byte = handle.read(1)
        while byte == b"\xff":
            byte = handle.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0x01, *range(0xD0, 0xD9)):
            continue
        field = handle.read(2)
        if len(field) < 2:
            return None
        length = struct.unpack(">H", field)[0]
        if marker in _JPEG_SOF:
            frame = handle.read(5)
            return struct.unpack(">xHH", frame) if len(frame) == 5 else None
        handle.seek(length - 2, 1)


def encoded_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from the header of JPEG or PNG bytes, None for other or broken headers.

    What an image will cost is known before it is decoded: a few kilobytes of PNG can
    inflate to gigabytes of pixels.
    """
    return _png_size(data[:24]) or _jpeg_size(io.BytesIO(data))


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of a JPEG or PNG file; other formats are decoded with OpenCV.

    Raises:
        FileNotFoundError: the file does not exist or cannot be read as an image.
    """
    path = Path(path)
    with path.open("rb") as handle:
        size = _png_size(handle.read(24))
        if size is None:
            handle.seek(0)
            size = _jpeg_size(handle)
    if size is None:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise FileNotFoundError(2, "not a readable image", str(path))
        size = image.shape[:2]
    return size
