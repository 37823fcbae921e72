"""Reading rosbag2 bags in time order, including MCAP files cut short.

A bag is a folder with metadata.yaml (as ``ros2 bag record`` writes it), a folder whose
metadata.yaml is missing, or a single ``.mcap`` / ``.db3`` file. Intact bags are read with
rosbags' indexed reader. An MCAP file that rosbags cannot open (no summary or footer,
cut short) is read by scanning it from the start (:mod:`lane_sad_ros.bag.mcap_scan`): every
complete message is returned, in file order, and then :class:`BagError` says where and
why the file ends. A sqlite3 file whose writer was killed has its last commits in a
write-ahead log beside it (``<file>-wal``, see :mod:`lane_sad_ros.bag.writer`), which
rosbags' read-only reader would ignore: it is folded into the database on opening, as any
SQLite client does, and reported like a cut MCAP file. A damaged sqlite3 file cannot be
read past SQLite's own checks; its error names the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from rosbags.interfaces import ConnectionExtRosbag2, Qos
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.rosbag2.metadata import parse_qos

from lane_sad_ros.bag import mcap_scan
from lane_sad_ros.bag.errors import BagError
from lane_sad_ros.bag.types import typestore_for

SUFFIXES = {".mcap": "mcap", ".db3": "sqlite3"}


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag: its type, definition, type hash, offered QoS and message count."""

    name: str
    msgtype: str
    msgdef: str = ""
    type_hash: str = ""
    qos: tuple[Qos, ...] = field(default_factory=tuple)
    count: int = 0


def is_bag(path: str | Path) -> bool:
    """True for a bag folder (metadata.yaml or storage files inside) or a .mcap/.db3 file."""
    path = Path(path)
    if path.is_file():
        return path.suffix in SUFFIXES
    return path.is_dir() and ((path / "metadata.yaml").is_file() or bool(_storage_files(path)))


def _storage_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)


def _reader_target(path: Path) -> Path:
    """What rosbags opens: the folder when it has metadata.yaml, else its storage file."""
    if not path.exists():
        raise BagError(f"{path}: bag not found")
    if path.is_file():
        if path.suffix not in SUFFIXES:
            raise BagError(f"{path}: not a bag (expected a folder, .mcap or .db3)")
        return path
    if (path / "metadata.yaml").is_file():
        return path
    files = _storage_files(path)
    if len(files) != 1:
        raise BagError(f"{path}: no metadata.yaml and {len(files)} storage files (.mcap/.db3)")
    return files[0]


class BagReader:
    """A bag opened for reading; use as a context manager.

    Attributes:
        path: the bag as given.
        storage: ``"mcap"`` or ``"sqlite3"``.
        topics: topic name -> :class:`TopicInfo`.
        damage: why the bag is incomplete (None when intact): an MCAP file that had to be
            scanned instead of opened, or a sqlite3 file its writer never closed;
            :meth:`messages` raises it after the last readable message.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._target = _reader_target(self.path)
        self._reader: Reader | None = None
        self._scan_file: Path | None = None
        self.damage: str | None = None
        self.storage = ""
        self.start_ns: int | None = None  # first and last message times (unknown when scanned)
        self.end_ns: int | None = None
        self.topics: dict[str, TopicInfo] = {}

    # --- opening ---------------------------------------------------------------------------
    def open(self) -> BagReader:
        self._check_sqlite()
        try:
            reader = Reader(self._target)
            reader.open()
        except (ReaderError, FileNotFoundError, OSError, KeyError, ValueError) as exc:
            mcap = self._mcap_file()
            if mcap is None:
                raise BagError(f"{self.path}: cannot read bag: {exc}") from None
            self._open_scan(mcap, str(exc))
            return self
        self._reader = reader
        if reader.message_count:
            self.start_ns, self.end_ns = reader.start_time, reader.end_time - 1  # rosbags' end is exclusive
        files = [self._target] if self._target.is_file() else _storage_files(self._target)
        self.storage = SUFFIXES[files[0].suffix] if files else "unknown"
        for name, info in reader.topics.items():
            conn = info.connections[0]
            self.topics[name] = TopicInfo(
                name,
                info.msgtype or conn.msgtype,
                info.msgdef.data,
                conn.digest,
                tuple(cast(ConnectionExtRosbag2, conn.ext).offered_qos_profiles),  # rosbag2 readers make these
                info.msgcount,
            )
        return self

    def _check_sqlite(self) -> None:
        """Fold in the write-ahead log a killed sqlite3 writer left; note a database never closed.

        rosbag2's and this project's writers fill the ``metadata`` table on closing, so a
        database that has the table empty was cut short.
        """
        files = [self._target] if self._target.is_file() else _storage_files(self._target)
        for db in (f for f in files if f.suffix == ".db3"):
            wal = db.with_name(db.name + "-wal")
            uri = f"file:{db}" if wal.is_file() else f"file:{db}?mode=ro"
            try:
                with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                    if wal.is_file():
                        conn.execute("PRAGMA journal_mode=DELETE")  # checkpoints the log, then removes it
                    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                    if "metadata" not in tables or "messages" not in tables:
                        continue
                    if conn.execute("SELECT count(*) FROM metadata").fetchone()[0] == 0:
                        count = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
                        self.damage = f"{db}: not closed by its writer (killed?); {count} messages were committed"
            except sqlite3.Error as exc:
                raise BagError(f"{self.path}: cannot read bag: {exc}") from None

    def _mcap_file(self) -> Path | None:
        if self._target.is_file():
            return self._target if self._target.suffix == ".mcap" else None
        files = _storage_files(self._target)
        return files[0] if len(files) == 1 and files[0].suffix == ".mcap" else None

    def _open_scan(self, mcap: Path, reason: str) -> None:
        """Learn the topics of a damaged MCAP file by scanning it (see the module docstring)."""
        self._scan_file, self.storage = mcap, "mcap"
        schemas: dict[int, mcap_scan.Schema] = {}
        channels: dict[int, mcap_scan.Channel] = {}
        counts: dict[int, int] = {}
        try:
            for record in mcap_scan.scan_mcap(mcap):
                if isinstance(record, mcap_scan.Schema):
                    schemas[record.id] = record
                elif isinstance(record, mcap_scan.Channel):
                    channels[record.id] = record
                elif record.channel_id in counts:
                    counts[record.channel_id] += 1
                else:
                    counts[record.channel_id] = 1
            self.damage = (
                f"{mcap}: cannot be opened ({reason.rstrip('.')}): not closed by its writer (killed?) or "
                "cut short; every record in it is complete"
            )
        except BagError as exc:
            self.damage = str(exc)
        for cid, ch in channels.items():
            schema = schemas.get(ch.schema_id)
            qos = parse_qos(ch.metadata["offered_qos_profiles"]) if ch.metadata.get("offered_qos_profiles") else []
            self.topics[ch.topic] = TopicInfo(
                ch.topic,
                schema.name if schema else "",
                schema.data if schema else "",
                ch.metadata.get("topic_type_hash", ""),
                tuple(qos),
                counts.get(cid, 0),
            )

    # --- reading ---------------------------------------------------------------------------
    def messages(
        self, topics: Collection[str] | None = None, partial: bool = False
    ) -> Iterator[tuple[TopicInfo, int, bytes]]:
        """``(topic, timestamp_ns, cdr_bytes)`` in time order (file order for a damaged MCAP).

        Args:
            topics: only these topics (default: all).
            partial: a damaged bag (:attr:`damage`) ends after its last readable message
                instead of raising; the caller reports the damage.

        Raises:
            BagError: the storage fails while reading, or (a damaged bag, unless ``partial``)
                after the last readable message, with :attr:`damage`.
        """
        wanted = set(self.topics if topics is None else topics)
        if self._scan_file is not None:
            yield from self._scanned_messages(self._scan_file, wanted)
        else:
            yield from self._indexed_messages(wanted)
        if self.damage and not partial:
            raise BagError(self.damage)

    def _indexed_messages(self, wanted: set[str]) -> Iterator[tuple[TopicInfo, int, bytes]]:
        assert self._reader is not None, "BagReader used before open()"
        conns = [c for c in self._reader.connections if c.topic in wanted]
        if not conns:
            return  # (rosbags reads an empty connection list as "all topics")
        count = 0
        try:
            for conn, timestamp, data in self._reader.messages(connections=conns):
                yield self.topics[conn.topic], timestamp, data
                count += 1
        except (ReaderError, OSError) as exc:  # a chunk's CRC, a record's framing, the disk
            raise BagError(f"{self.path}: damaged, read failed after {count} messages: {exc}") from None

    def _scanned_messages(self, scan_file: Path, wanted: set[str]) -> Iterator[tuple[TopicInfo, int, bytes]]:
        channels: dict[int, str] = {}
        try:
            for record in mcap_scan.scan_mcap(scan_file):
                if isinstance(record, mcap_scan.Channel):
                    channels[record.id] = record.topic
                elif isinstance(record, mcap_scan.Message) and channels.get(record.channel_id) in wanted:
                    yield self.topics[channels[record.channel_id]], record.log_time, record.data
        except BagError:
            return  # the same damage the opening scan found; raised by messages()

    def decode(self, topic: TopicInfo, data: bytes) -> Any:
        """The rosbags message in ``data``, read with the bag's own definition of its type
        (:func:`~lane_sad_ros.bag.types.typestore_for`); a corrupt message raises BagError naming the topic."""
        try:
            return typestore_for(topic.msgtype, topic.msgdef, topic.type_hash).deserialize_cdr(data, topic.msgtype)
        except Exception as exc:  # rosbags raises assorted errors on corrupt CDR
            raise BagError(
                f"{self.path}: cannot decode a {topic.msgtype} message on {topic.name}: {type(exc).__name__}: {exc}"
            ) from None

    @property
    def message_count(self) -> int:
        return sum(t.count for t in self.topics.values())

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> BagReader:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
