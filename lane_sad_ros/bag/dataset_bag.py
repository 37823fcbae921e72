"""A camera bag from a CULane or TuSimple tree: frames, ground truth and categories.

Frames are taken in the order of their image paths, which keeps CULane sequences
(``driver_*/<clip>.MP4/00000.jpg``, ...) and TuSimple clips (``clips/<date>/<id>/20.jpg``)
in recording order, and stamped at a fixed camera rate from t = 1 s (0 means "no time
yet" to nodes using simulated time). The layout of the topics is in
:mod:`lane_sad_ros.bag.topics`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lane_sad_core.data.datasets import LaneDataset, TusimpleDataset, read_image
from lane_sad_core.errors import ConfigError
from lane_sad_ros.bag import topics
from lane_sad_ros.bag.convert import NS, image_message, lane_array_message, string_message
from lane_sad_ros.bag.errors import BagError
from lane_sad_ros.bag.writer import BagWriter

START_NS = NS

Progress = Callable[[Iterable[int], int], Iterable[int]]


@dataclass(frozen=True)
class FrameInfo:
    """What ``/lanes_gt/info`` says about one frame."""

    stamp_ns: int
    image: str
    h_samples: list[float] | None = None

    def to_json(self) -> str:
        obj: dict = {"stamp_ns": self.stamp_ns, "image": self.image}
        if self.h_samples is not None:
            obj["h_samples"] = self.h_samples
        return json.dumps(obj)

    @classmethod
    def from_json(cls, text: str) -> FrameInfo:
        try:
            obj = json.loads(text)
            return cls(int(obj["stamp_ns"]), str(obj["image"]), obj.get("h_samples"))
        except (ValueError, KeyError, TypeError) as exc:
            raise BagError(f"malformed {topics.GT_INFO} message {text[:80]!r}: {exc}") from None


def relative_key(dataset: LaneDataset, i: int) -> str:
    """Sample ``i``'s image path relative to the data set root (as labels name it)."""
    return dataset.image_path(i).relative_to(dataset.root).as_posix()


def frame_order(dataset: LaneDataset, max_frames: int | None = None) -> list[int]:
    """Sample indices sorted by image path (recording order), the first ``max_frames``."""
    order = sorted(range(len(dataset)), key=lambda i: relative_key(dataset, i))
    return order if max_frames is None else order[:max_frames]


def h_samples(dataset: LaneDataset, i: int) -> list[float] | None:
    """TuSimple's label rows of sample ``i`` (None for CULane, scored at every 10th row)."""
    if isinstance(dataset, TusimpleDataset):
        return [float(y) for y in dataset.records[i].h_samples]
    return None


def write_dataset_bag(
    dataset: LaneDataset,
    out: BagWriter,
    rate_hz: float = 10.0,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Write ``dataset``'s frames with their ground truth into the open bag ``out``.

    Args:
        dataset: a CULane or TuSimple data set (source images and labels are read).
        out: an open :class:`BagWriter`.
        rate_hz: camera rate that spaces the stamps.
        max_frames: only the first N frames in path order.
        progress: optional ``progress(iterable, total)`` wrapper (tqdm).

    Returns:
        The number of frames written.
    """
    if rate_hz <= 0:
        raise ConfigError(f"camera rate must be > 0 Hz, got {rate_hz}")
    order = frame_order(dataset, max_frames)
    out.add_topic(topics.CAMERA, "sensor_msgs/msg/Image")
    out.add_topic(topics.GT, "lane_sad/msg/LaneArray")
    out.add_topic(topics.GT_INFO, "std_msgs/msg/String")
    for n, i in enumerate(progress(order, len(order)) if progress else order):
        ns = START_NS + round(n * NS / rate_hz)
        image = read_image(dataset.image_path(i))
        gt = lane_array_message(
            dataset.lanes(i),
            image.shape[:2],
            ns,
            topics.CAMERA_FRAME_ID,
            f"{topics.GT_MODEL_PREFIX}{dataset.category(i)}",
        )
        # Ground truth first: a file cut after an image then still has that image's labels.
        out.write(topics.GT, ns, gt)
        out.write(
            topics.GT_INFO, ns, string_message(FrameInfo(ns, relative_key(dataset, i), h_samples(dataset, i)).to_json())
        )
        out.write(topics.CAMERA, ns, image_message(image, ns, topics.CAMERA_FRAME_ID))
    return len(order)
