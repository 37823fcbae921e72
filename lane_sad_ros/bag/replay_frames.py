"""A replay bag (or any bag with the node's ``/lanes``) as per-frame records for the report.

Frames are matched by header stamp: the ground truth's (``/lanes_gt``), the node's answer
(``/lanes``, whose header is copied from the image) and the replay's timing records
(``/replay/sent``, ``/replay/received``). Ground truth comes from the bag itself, from
another bag (the camera bag the replay played), or from the data set's labels, matched
through the image paths in the bag's ``/lanes_gt/info``.

A damaged bag (a replay killed before it closed its output, a copy cut short) is read up
to its damage when the caller passes a ``notes`` list, which then says how much was read;
without one the damage is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lane_sad_core.data.datasets import LaneDataset
from lane_sad_core.infer.bag_report import BagFrame
from lane_sad_ros.bag import topics
from lane_sad_ros.bag.convert import lanes_from_message, stamp_ns
from lane_sad_ros.bag.dataset_bag import FrameInfo, h_samples, relative_key
from lane_sad_ros.bag.errors import BagError
from lane_sad_ros.bag.reader import BagReader, TopicInfo

LANE_ARRAY = "lane_sad/msg/LaneArray"
TIME_REFERENCE = "sensor_msgs/msg/TimeReference"


def _frame(frames: dict[int, BagFrame], ns: int) -> BagFrame:
    if ns not in frames:
        frames[ns] = BagFrame(ns)
    return frames[ns]


def _messages(reader: BagReader, wanted: list[str], notes: list[str] | None) -> Iterator[tuple[TopicInfo, Any]]:
    """Decoded messages of ``wanted``; a damaged bag ends at the damage with a note, or raises without ``notes``."""
    read = 0
    for topic, _, raw in reader.messages(wanted, partial=notes is not None):
        yield topic, reader.decode(topic, raw)
        read += 1
    if reader.damage and notes is not None:
        names = ", ".join(wanted)
        notes.append(f"{reader.path} is damaged; read {read} messages of {names} before it ({reader.damage})")


def _require(reader: BagReader, topic: str, msgtype: str, role: str) -> None:
    """``topic`` is in the bag with type ``msgtype``, or a one-line error says what is wrong."""
    path = reader.path
    if topic not in reader.topics:
        if reader.damage:
            raise BagError(f"{path}: damaged before any {topic} message ({role}) could be read ({reader.damage})")
        raise BagError(f"{path}: no {topic} topic ({role}; topics: {', '.join(sorted(reader.topics)) or 'none'})")
    found = reader.topics[topic].msgtype
    if found != msgtype:
        raise BagError(f"{path}: {topic} holds {found or 'an unknown type'}, not {msgtype} ({role})")


def frame_infos(bag: str | Path, notes: list[str] | None = None) -> dict[int, FrameInfo]:
    """``/lanes_gt/info`` of a bag: stamp -> image path (and TuSimple rows)."""
    with BagReader(bag) as reader:
        _require(reader, topics.GT_INFO, "std_msgs/msg/String", "matches data set labels by image path")
        infos = [FrameInfo.from_json(msg.data) for _, msg in _messages(reader, [topics.GT_INFO], notes)]
    return {info.stamp_ns: info for info in infos}


def ground_truth_from_bag(bag: str | Path, notes: list[str] | None = None) -> dict[int, BagFrame]:
    """The ``/lanes_gt`` frames of a bag, with ``/lanes_gt/info`` where present."""
    frames: dict[int, BagFrame] = {}
    with BagReader(bag) as reader:
        _require(reader, topics.GT, LANE_ARRAY, "the ground truth")
        wanted = [topics.GT] + ([topics.GT_INFO] if topics.GT_INFO in reader.topics else [])
        for topic, msg in _messages(reader, wanted, notes):
            if topic.name == topics.GT_INFO:
                info = FrameInfo.from_json(msg.data)
                frame = _frame(frames, info.stamp_ns)
                frame.image, frame.h_samples = info.image, info.h_samples
                continue
            frame = _frame(frames, stamp_ns(msg.header.stamp))
            frame.gt = lanes_from_message(msg)
            frame.size = (int(msg.image_height), int(msg.image_width))
            prefix = topics.GT_MODEL_PREFIX
            frame.category = msg.model_name[len(prefix) :] if msg.model_name.startswith(prefix) else "unknown"
    return frames


def ground_truth_from_dataset(dataset: LaneDataset, infos: dict[int, FrameInfo]) -> dict[int, BagFrame]:
    """Labels of ``dataset`` for the frames ``infos`` names (images not in it are skipped)."""
    index = {relative_key(dataset, i): i for i in range(len(dataset))}
    frames = {}
    for ns, info in infos.items():
        i = index.get(info.image)
        if i is not None:
            frames[ns] = BagFrame(
                ns,
                gt=dataset.lanes(i),
                size=dataset.source_size(i),
                category=dataset.category(i),
                h_samples=h_samples(dataset, i),
                image=info.image,
            )
    return frames


def add_answers(
    bag: str | Path, frames: dict[int, BagFrame], lanes_topic: str = topics.LANES, notes: list[str] | None = None
) -> None:
    """Add the node's answers and the replay's send/receive times from ``bag`` to ``frames``."""
    with BagReader(bag) as reader:
        _require(reader, lanes_topic, LANE_ARRAY, "the node's answers")
        timing = [t for t in (topics.SENT, topics.RECEIVED) if t in reader.topics]
        for t in timing:
            _require(reader, t, TIME_REFERENCE, "replay timing")
        for topic, msg in _messages(reader, [lanes_topic, *timing], notes):
            frame = _frame(frames, stamp_ns(msg.header.stamp))
            if topic.name == lanes_topic:
                frame.pred = lanes_from_message(msg)
                frame.processing_ms, frame.inference_ms = float(msg.processing_ms), float(msg.inference_ms)
                frame.size = frame.size or (int(msg.image_height), int(msg.image_width))
            elif topic.name == topics.SENT:
                frame.sent_ns = stamp_ns(msg.time_ref)
            else:
                frame.received_ns = stamp_ns(msg.time_ref)
