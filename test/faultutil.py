"""Helpers of the fault tests: the one line a failing command prints, a checkpoint with flipped bytes."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest


def one_error(capsys: pytest.CaptureFixture) -> str:
    """The only line on stderr (a traceback or a second line fails the test)."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def flip_tensor_bytes(src: Path, dst: Path, count: int = 2000) -> None:
    """Invert ``count`` bytes in the middle of the largest tensor of a checkpoint (zip entries are stored)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[entry.header_offset + 26 : entry.header_offset + 30])
    start = entry.header_offset + 30 + name_len + extra_len + entry.file_size // 2
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    dst.write_bytes(bytes(data))
