"""Image sizes from file headers, without decoding the pixels.

Loaders need each frame's source size (to place lanes in slots and to map network
outputs back) long before, or without, decoding it; reading the JPEG or PNG header costs
microseconds instead of milliseconds.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_JPEG_SOF = {m for m in range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


def _png_size(head: bytes) -> tuple[int, int] | None:
    if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _jpeg_size(path: Path) -> tuple[int, int] | None:
    with path.open("rb") as handle:
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
            length = struct.unpack(">H", handle.read(2))[0]
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">xHH", handle.read(5))
                return height, width
            handle.seek(length - 2, 1)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of a JPEG or PNG file; other formats are decoded with OpenCV.

    Raises:
        FileNotFoundError: the file does not exist or cannot be read as an image.
    """
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(24)
    size = _png_size(head) or _jpeg_size(path)
    if size is None:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise FileNotFoundError(2, "not a readable image", str(path))
        size = image.shape[:2]
    return size
