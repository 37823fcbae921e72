"""lane_sad_core results -> lane_sad / rviz messages. Conversion only, no ML."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Point32
from lane_sad.msg import EgoLane as EgoLaneMsg
from lane_sad.msg import Lane as LaneMsg
from lane_sad.msg import LaneArray, LaneAttention
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from lane_sad_core.ego_lane import EgoLane
from lane_sad_core.infer.overlay import slot_color
from lane_sad_core.lanes import Lane
from lane_sad_ros.image_conv import bgr_to_image_msg

EGO_RGB = (0.9, 0.9, 0.9)  # the ego lane's centre and text; red on lane departure
DEPARTURE_RGB = (1.0, 0.1, 0.1)


def lane_to_msg(lane: Lane, ground: np.ndarray | None = None) -> LaneMsg:
    """One ``Lane`` message; ``ground`` is the (N, 3) flat-ground projection or None."""
    msg = LaneMsg(slot=max(lane.slot, 0), existence=float(lane.existence))
    msg.points = [Point32(x=x, y=y) for x, y in lane.points.tolist()]  # floats: 2x faster to build
    msg.confidence = lane.confidence.astype(np.float32)
    if ground is not None:
        msg.ground_points = [Point(x=x, y=y, z=z) for x, y, z in np.asarray(ground, dtype=np.float64).tolist()]
    return msg


def lane_array(
    header: Header,
    size: tuple[int, int],
    lanes: Sequence[LaneMsg],
    model_name: str,
    inference_ms: float,
    processing_ms: float,
    ground_frame_id: str = "",
    ego: EgoLane | None = None,
) -> LaneArray:
    """The ``LaneArray`` for one frame; ``size`` is (width, height) of the source image."""
    msg = LaneArray(header=header, model_name=model_name, ground_frame_id=ground_frame_id)
    msg.ego = ego_to_msg(ego or EgoLane(valid=False))
    msg.image_width, msg.image_height = size
    msg.lanes = list(lanes)
    msg.inference_ms, msg.processing_ms = float(inference_ms), float(processing_ms)
    return msg


def ego_to_msg(ego: EgoLane) -> EgoLaneMsg:
    """The ``EgoLane`` message (NaN numbers when not valid, as the core gives them)."""
    return EgoLaneMsg(
        valid=ego.valid,
        width=ego.width,
        offset=ego.offset,
        heading=ego.heading,
        curvature=ego.curvature,
        lookahead=ego.lookahead,
        departure=ego.departure,
    )


def attention_msg(header: Header, overlay_bgr: np.ndarray, maps: dict[str, np.ndarray]) -> LaneAttention:
    """The debug message: the blended overlay and one mono8 image per block."""
    msg = LaneAttention(header=header, overlay=bgr_to_image_msg(overlay_bgr, header))
    for name, heat in maps.items():
        msg.block_names.append(name)
        mono = (np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)
        msg.attention_maps.append(bgr_to_image_msg(mono, header))
    return msg


def lane_markers(
    header: Header, lanes: Sequence[LaneMsg], ego: EgoLane | None = None, width_m: float = 0.15
) -> MarkerArray:
    """LINE_STRIP markers of the lanes' ground points (a DELETEALL clears old lanes first), and the ego lane's."""
    out = MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])
    for lane in lanes:
        pts = [p for p in lane.ground_points if np.isfinite(p.x)]
        if len(pts) < 2:
            continue
        marker = _marker(header, "lanes", int(lane.slot), Marker.LINE_STRIP, slot_rgb(int(lane.slot)))
        marker.scale.x = width_m
        marker.points = pts
        out.markers.append(marker)
    if ego is not None:
        out.markers.extend(ego_markers(header, ego, width_m))
    return out


def ego_markers(header: Header, ego: EgoLane, width_m: float = 0.15) -> list[Marker]:
    """The ego lane's fitted centre (to twice the look-ahead) and a text of its measures above it.

    Both turn red on lane departure; an ego lane not seen gets the text alone, saying so.
    """
    rgb = DEPARTURE_RGB if ego.departure else EGO_RGB
    text = _marker(header, "ego", 1, Marker.TEXT_VIEW_FACING, rgb)
    text.scale.z = 0.5  # letter height, metres
    text.pose.position.z = 1.0
    if not ego.valid or ego.centre is None:
        text.pose.position.x = 10.0
        text.text = "ego lane not seen"
        return [text]
    ahead = max(2.0 * ego.lookahead, 10.0)
    text.pose.position.x, text.pose.position.y = ego.lookahead, float(ego.centre(ego.lookahead))
    text.text = ego_summary(ego)
    centre = _marker(header, "ego", 0, Marker.LINE_STRIP, rgb)
    centre.scale.x = width_m
    xs = np.linspace(0.0, ahead, 21)
    centre.points = [Point(x=float(x), y=float(y), z=0.0) for x, y in zip(xs, ego.centre(xs))]
    return [centre, text]


def ego_summary(ego: EgoLane) -> str:
    """One line for rviz2: width, offset (+ left), heading (degrees, + left), curvature at the look-ahead."""
    line = (
        f"lane {ego.width:.2f} m  offset {ego.offset:+.2f} m  heading {np.degrees(ego.heading):+.1f} deg  "
        f"curvature {ego.curvature:+.4f} /m at {ego.lookahead:.0f} m"
    )
    return line + "  LANE DEPARTURE" if ego.departure else line


def slot_rgb(slot: int) -> tuple[float, float, float]:
    """A slot's colour for rviz, in [0, 1]: the image overlay's, so a lane looks the same in both."""
    blue, green, red = slot_color(slot)
    return red / 255.0, green / 255.0, blue / 255.0


def _marker(header: Header, ns: str, marker_id: int, kind: int, rgb: tuple[float, float, float]) -> Marker:
    marker = Marker(
        header=header,
        ns=ns,
        id=marker_id,
        type=kind,
        action=Marker.ADD,
        color=ColorRGBA(r=rgb[0], g=rgb[1], b=rgb[2], a=1.0),
    )
    marker.pose.orientation.w = 1.0
    return marker
