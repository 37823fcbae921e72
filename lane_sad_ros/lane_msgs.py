"""lane_sad_core results -> lane_sad / rviz messages. Conversion only, no ML."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Point32
from lane_sad.msg import Lane as LaneMsg
from lane_sad.msg import LaneArray, LaneAttention
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from lane_sad_core.lanes import Lane
from lane_sad_ros.image_conv import bgr_to_image_msg

# RGB per slot for rviz (the same hues as the image overlay's BGR colours).
SLOT_RGB = ((0.2, 0.6, 1.0), (0.2, 1.0, 0.2), (1.0, 0.3, 0.3), (1.0, 0.9, 0.2))


def lane_to_msg(lane: Lane, ground: np.ndarray | None = None) -> LaneMsg:
    """One ``Lane`` message; ``ground`` is the (N, 3) flat-ground projection or None."""
    msg = LaneMsg(slot=max(lane.slot, 0), existence=float(lane.existence))
    msg.points = [Point32(x=float(x), y=float(y), z=0.0) for x, y in lane.points]
    msg.confidence = lane.confidence.astype(np.float32)
    if ground is not None:
        msg.ground_points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in ground]
    return msg


def lane_array(
    header: Header,
    size: tuple[int, int],
    lanes: Sequence[LaneMsg],
    model_name: str,
    inference_ms: float,
    processing_ms: float,
    ground_frame_id: str = "",
) -> LaneArray:
    """The ``LaneArray`` for one frame; ``size`` is (width, height) of the source image."""
    msg = LaneArray(header=header, model_name=model_name, ground_frame_id=ground_frame_id)
    msg.image_width, msg.image_height = size
    msg.lanes = list(lanes)
    msg.inference_ms, msg.processing_ms = float(inference_ms), float(processing_ms)
    return msg


def attention_msg(header: Header, overlay_bgr: np.ndarray, maps: dict[str, np.ndarray]) -> LaneAttention:
    """The debug message: the blended overlay and one mono8 image per block."""
    msg = LaneAttention(header=header, overlay=bgr_to_image_msg(overlay_bgr, header))
    for name, heat in maps.items():
        msg.block_names.append(name)
        mono = (np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)
        msg.attention_maps.append(bgr_to_image_msg(mono, header))
    return msg


def lane_markers(header: Header, lanes: Sequence[LaneMsg], width_m: float = 0.15) -> MarkerArray:
    """LINE_STRIP markers of the lanes' ground points (a DELETEALL clears old lanes first)."""
    out = MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])
    for lane in lanes:
        pts = [p for p in lane.ground_points if np.isfinite(p.x)]
        if len(pts) < 2:
            continue
        r, g, b = SLOT_RGB[lane.slot % len(SLOT_RGB)]
        marker = Marker(
            header=header,
            ns="lanes",
            id=int(lane.slot),
            type=Marker.LINE_STRIP,
            action=Marker.ADD,
            color=ColorRGBA(r=r, g=g, b=b, a=1.0),
        )
        marker.scale.x = width_m
        marker.pose.orientation.w = 1.0
        marker.points = pts
        out.markers.append(marker)
    return out
