"""Reading an MCAP file record by record, from the start, without its summary.

A recorder that is killed, or a copy that is cut short, leaves an MCAP file without the
summary and footer that indexed readers (rosbags' included) need to open it, although
every record before the cut is intact. Like the MCAP library's fallback scan that rosbag2
uses, this reads schemas, channels and messages in file order, including those inside
chunks, and reports where the file ends early.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rosbags.rosbag2.errors import ReaderError
from rosbags.rosbag2.storage_mcap import decompress

from lane_sad_ros.bag.errors import BagError

MAGIC = b"\x89MCAP0\r\n"
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x03, 0x04, 0x05, 0x06
OP_FOOTER, OP_DATA_END = 0x02, 0x0F
_PARSED = frozenset({OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK})
_MESSAGE_HEAD = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time
_CHUNK_HEAD = struct.Struct("<QQQI")  # start time, end time, uncompressed size, crc


@dataclass(frozen=True)
class Schema:
    id: int
    name: str
    encoding: str
    data: str


@dataclass(frozen=True)
class Channel:
    id: int
    schema_id: int
    topic: str
    encoding: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Message:
    channel_id: int
    log_time: int
    data: bytes


Record = Schema | Channel | Message


class Truncated(BagError):
    """The file ends inside a record; ``offset`` is where that record starts."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__(
            f"{path}: file ends inside the record at byte {offset} of {size} "
            "(cut short: copy interrupted or recorder killed)"
        )
        self.offset = offset


class _Buffer:
    """Little-endian reads from bytes with a position."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        if len(out) != n:
            raise ValueError(f"record field overruns the record at byte {self.pos}")
        self.pos += n
        return out

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def text(self) -> str:
        return self.take(self.u32()).decode()


def _parse(op: int, body: bytes) -> Iterator[Record]:
    buf = _Buffer(body)
    if op == OP_SCHEMA:
        yield Schema(buf.u16(), buf.text(), buf.text(), buf.take(buf.u32()).decode())
    elif op == OP_CHANNEL:
        cid, sid, topic, encoding = buf.u16(), buf.u16(), buf.text(), buf.text()
        meta = _Buffer(buf.take(buf.u32()))
        pairs = {}
        while meta.pos < len(meta.data):
            key = meta.text()
            pairs[key] = meta.text()
        yield Channel(cid, sid, topic, encoding, pairs)
    elif op == OP_MESSAGE:
        cid, _, log_time, _ = _MESSAGE_HEAD.unpack(buf.take(_MESSAGE_HEAD.size))
        yield Message(cid, log_time, body[buf.pos :])
    elif op == OP_CHUNK:
        _, _, size, crc = _CHUNK_HEAD.unpack(buf.take(_CHUNK_HEAD.size))
        compression = buf.text()
        records = decompress(buf.take(buf.u64()), compression, size, crc)
        yield from _records(_Buffer(records))


def _records(buf: _Buffer) -> Iterator[Record]:
    while buf.pos < len(buf.data):
        op, length = buf.take(1)[0], buf.u64()
        yield from _parse(op, buf.take(length))


def _read(handle: BinaryIO, n: int) -> bytes | None:
    data = handle.read(n)
    return data if len(data) == n else None


def scan_mcap(path: str | Path) -> Iterator[Record]:
    """Schemas, channels and messages of an MCAP file in file order.

    Raises:
        Truncated: after the last complete record, when the file is cut inside a record.
        BagError: not an MCAP file, or a record that cannot be parsed (the byte offset named).
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise BagError(f"{path}: not an MCAP file (bad magic)")
        while True:
            offset = handle.tell()
            head = handle.read(9)
            if not head:
                return  # clean end without footer: nothing was cut inside a record
            if len(head) < 9:
                raise Truncated(path, offset, size)
            op, length = head[0], struct.unpack("<Q", head[1:])[0]
            if op in (OP_DATA_END, OP_FOOTER):
                return
            if op not in _PARSED:
                if handle.seek(length, 1) > size:
                    raise Truncated(path, offset, size)
                continue
            body = _read(handle, length)
            if body is None:
                raise Truncated(path, offset, size)
            try:
                yield from _parse(op, body)
            except (ValueError, UnicodeDecodeError, ReaderError) as exc:
                raise BagError(f"{path}: bad MCAP record at byte {offset}: {exc}") from None
