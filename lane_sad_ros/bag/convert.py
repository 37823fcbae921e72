"""lane_sad_core values <-> rosbags messages (the typestore's classes, not rclpy's).

Bags are written and read without rclpy: the same CDR bytes, produced by rosbags. Points
are float32 in the message (``geometry_msgs/Point32``); the CULane metric reads lanes as
float32 as well and TuSimple rounds x to integers, so storing ground truth this way does
not change a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lane_sad_core.lanes import Lane
from lane_sad_ros.bag.types import typestore

NS = 1_000_000_000


def _t(name: str) -> Any:
    return typestore().types[name]


def stamp(ns: int) -> Any:
    """A ``builtin_interfaces/Time`` for ``ns`` nanoseconds."""
    sec, nanosec = divmod(int(ns), NS)
    return _t("builtin_interfaces/msg/Time")(sec=sec, nanosec=nanosec)


def stamp_ns(time_msg: Any) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time`` (header stamps, TimeReference times)."""
    return int(time_msg.sec) * NS + int(time_msg.nanosec)


def header(ns: int, frame_id: str) -> Any:
    return _t("std_msgs/msg/Header")(stamp=stamp(ns), frame_id=frame_id)


def image_message(image_bgr: np.ndarray, ns: int, frame_id: str) -> Any:
    """A ``sensor_msgs/Image`` (bgr8, unpadded rows) of a uint8 (H, W, 3) BGR array."""
    h, w = image_bgr.shape[:2]
    data = np.ascontiguousarray(image_bgr, dtype=np.uint8).reshape(-1)
    return _t("sensor_msgs/msg/Image")(
        header=header(ns, frame_id), height=h, width=w, encoding="bgr8", is_bigendian=0, step=w * 3, data=data
    )


def lane_array_message(lanes: Sequence[Lane], size: tuple[int, int], ns: int, frame_id: str, model_name: str) -> Any:
    """A ``lane_sad/LaneArray`` of ``lanes`` (source pixels) for an image of ``size`` = (height, width)."""
    point = _t("geometry_msgs/msg/Point32")
    lane_cls = _t("lane_sad/msg/Lane")
    msgs = [
        lane_cls(
            slot=max(lane.slot, 0),
            existence=float(lane.existence),
            points=[point(x=float(x), y=float(y), z=0.0) for x, y in lane.points],
            confidence=lane.confidence.astype(np.float32),
            ground_points=[],
        )
        for lane in lanes
    ]
    return _t("lane_sad/msg/LaneArray")(
        header=header(ns, frame_id),
        image_width=size[1],
        image_height=size[0],
        lanes=msgs,
        ground_frame_id="",
        model_name=model_name,
        inference_ms=0.0,
        processing_ms=0.0,
        ego=no_ego_lane(),
    )


def no_ego_lane() -> Any:
    """An ``EgoLane`` that is not valid: NaN numbers, no departure (ground truth in pixels has no metres)."""
    nan = float("nan")
    return _t("lane_sad/msg/EgoLane")(
        valid=False, width=nan, offset=nan, heading=nan, curvature=nan, lookahead=nan, departure=False
    )


def lanes_from_message(msg: Any) -> list[Lane]:
    """The lanes of a ``lane_sad/LaneArray`` (as the node published them, or ground truth)."""
    return [
        Lane(
            np.array([(p.x, p.y) for p in lane.points], dtype=np.float64).reshape(-1, 2),
            int(lane.slot),
            float(lane.existence),
            np.asarray(lane.confidence, dtype=np.float32),
        )
        for lane in msg.lanes
    ]


def string_message(text: str) -> Any:
    return _t("std_msgs/msg/String")(data=text)


def time_reference(frame_ns: int, wall_ns: int, source: str) -> Any:
    """A ``sensor_msgs/TimeReference``: frame ``frame_ns`` (header stamp) at wall time ``wall_ns``."""
    return _t("sensor_msgs/msg/TimeReference")(header=header(frame_ns, ""), time_ref=stamp(wall_ns), source=source)
