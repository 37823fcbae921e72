"""Writing rosbag2 bags that ``ros2 bag`` reads: metadata.yaml, MCAP or sqlite3, CDR.

rosbags' writer produces the layout; one addition makes the MCAP files complete: rosbag2's
MCAP plugin stores each topic's RIHS01 type hash in the channel's ``topic_type_hash``
metadata (besides ``offered_qos_profiles``) and reads it back into the topic metadata, so
it is written here too.

:class:`BagWriter` always closes the storage, also when the code writing it fails or a stop
signal arrives (a write is never cut in half: :func:`lane_sad_core.interrupts.deferred`):
a bag cut short by an error is valid up to the last message written (replay relies on
this). A process killed outright (SIGKILL, power loss) closes nothing, so the storage keeps
what it holds on disk at all times: MCAP messages go out in chunks of at most
:data:`FLUSH_S` seconds (rosbags' writer alone keeps up to 1 MiB in memory, which is the
whole of a replay's answers) and sqlite3 commits every :data:`FLUSH_S` seconds to a
write-ahead log. A killed bag then lacks at most its last second, and its MCAP file its
summary, which :mod:`lane_sad_ros.bag.reader` reads around.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Literal, cast

from rosbags.interfaces import Connection, ConnectionExtRosbag2, Qos
from rosbags.rosbag2 import CompressionMode, StoragePlugin, Writer, WriterError
from rosbags.rosbag2.storage_mcap import Channel, McapWriter, write_channel, write_string, write_uint32
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Writer

from lane_sad_core.interrupts import deferred
from lane_sad_ros.bag.errors import BagError
from lane_sad_ros.bag.types import RECORDED_QOS, typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_VERSION: Literal[9] = 9  # metadata version rosbag2 writes since Jazzy
FLUSH_S = 1.0  # at most this much of a bag's recording lives only in memory
_CHUNK_CRC_OFFSET = 1 + 8 + 3 * 8  # opcode, record length, start time, end time, uncompressed size


class _Rosbag2McapWriter(McapWriter):
    """rosbags' MCAP storage, with the channel metadata rosbag2's MCAP plugin writes, in chunks
    of at most :data:`FLUSH_S` seconds."""

    def __init__(self, path: Path, compression: CompressionMode) -> None:
        super().__init__(path, compression)
        self._chunk_opened = time.monotonic()

    def add_connection(self, connection: Connection, offered_qos_profiles: str) -> None:
        metadata = BytesIO()
        for key, value in (("offered_qos_profiles", offered_qos_profiles), ("topic_type_hash", connection.digest)):
            write_string(metadata, key)
            write_string(metadata, value)
        self.channels.append(
            Channel(
                connection.id,
                connection.msgtype,
                connection.topic,
                cast(ConnectionExtRosbag2, connection.ext).serialization_format,  # rosbag2 connections
                metadata.getvalue(),
            )
        )
        self.channel_stats[connection.id] = 0
        write_channel(self.chunk.bio, self.channels[-1], self.schemas)

    def write(self, connection: Connection, timestamp: int, data: bytes | memoryview) -> None:
        """Write a message; the chunk goes to the file once it holds :data:`FLUSH_S` seconds."""
        if not self.chunk.msgs:
            self._chunk_opened = time.monotonic()
        super().write(connection, timestamp, data)
        if self.chunk.msgs and time.monotonic() - self._chunk_opened >= FLUSH_S:
            self.close_chunk()

    def close_chunk(self) -> None:
        """Write the pending chunk with its CRC and its index, and hand them to the OS (a kill keeps them).

        rosbags leaves the chunk's CRC field 0 (none), so overwritten bytes would read as
        other messages; with the CRC every reader (rosbags', rosbag2's, the scan here)
        refuses a damaged chunk.
        """
        start, crc = self.bio.tell(), zlib.crc32(self.chunk.bio.getbuffer())
        super().close_chunk()
        end = self.bio.tell()
        self.bio.seek(start + _CHUNK_CRC_OFFSET)
        write_uint32(self.bio, crc)
        self.bio.seek(end)
        self.bio.flush()


class _WalSqlite3Writer(Sqlite3Writer):
    """rosbags' sqlite3 storage, committing every :data:`FLUSH_S` seconds to a write-ahead log.

    rosbags commits once, at close, so a killed writer leaves an empty database. In WAL mode
    a commit is appended to ``<file>-wal``, and the database stays consistent whenever the
    process dies; :class:`~lane_sad_ros.bag.reader.BagReader` folds such a log back in.
    """

    def __init__(self, path: Path, compression: CompressionMode) -> None:
        super().__init__(path, compression)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self._committed = time.monotonic()

    def write(self, connection: Connection, timestamp: int, data: bytes | memoryview) -> None:
        super().write(connection, timestamp, data)
        if time.monotonic() - self._committed >= FLUSH_S:
            self.conn.commit()
            self._committed = time.monotonic()

    def close(self, version: int, metadata: str) -> None:
        """Commit, and leave a plain database (rollback journal) as ``ros2 bag`` writes it."""
        self.conn.commit()
        self.conn.execute("PRAGMA journal_mode=DELETE")
        super().close(version, metadata)


class _Writer(Writer):
    STORAGE_PLUGINS: Mapping[StoragePlugin, Any] = MappingProxyType(
        {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _Rosbag2McapWriter, StoragePlugin.SQLITE3: _WalSqlite3Writer}
    )


class BagWriter:
    """A bag being written, one connection per topic; thread-safe ``write``.

    Args:
        path: the bag folder to create (must not exist).
        storage: ``"mcap"`` or ``"sqlite3"``.

    Raises:
        BagError: unknown storage, or ``path`` exists.
    """

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown bag storage '{storage}' (known: {', '.join(STORAGES)})")
        self.path = Path(path)
        self.storage = storage
        try:
            self._writer = _Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        except WriterError as exc:
            raise BagError(f"cannot write bag {self.path}: {exc}") from None
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    def open(self) -> BagWriter:
        """Create the bag folder and its storage file."""
        try:
            self._writer.open()
        except (WriterError, OSError) as exc:
            raise BagError(f"cannot write bag {self.path}: {exc}") from None
        return self

    def add_topic(
        self,
        topic: str,
        msgtype: str,
        *,
        msgdef: str | None = None,
        type_hash: str | None = None,
        qos: list[Qos] | None = None,
    ) -> None:
        """Declare ``topic``; the definition and hash come from the typestore unless given
        (topics copied from another bag keep theirs)."""
        with self._lock:
            try:
                self._connections[topic] = self._writer.add_connection(
                    topic,
                    msgtype,
                    typestore=typestore(),
                    msgdef=msgdef or None,
                    rihs01=type_hash or None,
                    offered_qos_profiles=qos if qos is not None else [RECORDED_QOS],
                )
            except Exception as exc:  # WriterError, or a type the typestore does not know
                raise BagError(f"{self.path}: cannot add topic {topic} ({msgtype}): {exc}") from None

    def write(self, topic: str, timestamp_ns: int, msg: Any) -> None:
        """Serialise a rosbags message to CDR and write it."""
        self.write_raw(topic, timestamp_ns, typestore().serialize_cdr(msg, msg.__msgtype__))

    def write_raw(self, topic: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        """Write an already serialised (CDR) message."""
        with self._lock, deferred():
            self._writer.write(self._connections[topic], int(timestamp_ns), data)

    def set_custom_data(self, key: str, value: str) -> None:
        """A ``custom_data`` entry of metadata.yaml (set before :meth:`close`)."""
        self._writer.set_custom_data(key, value)

    def close(self) -> None:
        """Finish the storage file and write metadata.yaml."""
        with self._lock, deferred():
            if self._writer.storage is not None:
                self._writer.close()

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
