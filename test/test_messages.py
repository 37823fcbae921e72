"""The generated messages cross real process boundaries over real DDS, unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from rosutil import PEERS, Spinner, python_command, running, wait_until

pytestmark = pytest.mark.ros


def _lane_array():
    from geometry_msgs.msg import Point32
    from lane_sad.msg import EgoLane, Lane, LaneArray

    msg = LaneArray()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_123, 456_789
    msg.header.frame_id = "front_camera"
    msg.image_width, msg.image_height = 1640, 590
    msg.model_name = "enet_sad"
    msg.inference_ms, msg.processing_ms = 12.5, 17.25
    for slot in range(3):
        lane = Lane(slot=slot, existence=0.5 + 0.125 * slot)
        lane.points = [Point32(x=100.0 * slot + i, y=590.0 - 10 * i, z=0.0) for i in range(18)]
        lane.confidence = [1.0 - i / 32 for i in range(18)]  # exact in float32
        msg.lanes.append(lane)
    msg.ground_frame_id = "lane_sad_ground"
    # values exact in float32, so the round trip compares equal
    msg.ego = EgoLane(
        valid=True, width=3.5, offset=-0.25, heading=0.015625, curvature=-1 / 512, lookahead=10.0, departure=True
    )
    return msg


def _attention():
    from lane_sad.msg import LaneAttention
    from sensor_msgs.msg import Image

    msg = LaneAttention()
    msg.header.frame_id = "front_camera"
    msg.header.stamp.sec = 42
    rng = np.random.default_rng(0)
    msg.overlay = Image(
        height=36, width=100, encoding="bgr8", step=300, data=rng.integers(0, 256, 36 * 300, dtype=np.uint8).tobytes()
    )
    for name in ("E2", "E3", "E4"):
        msg.block_names.append(name)
        msg.attention_maps.append(
            Image(
                height=36,
                width=100,
                encoding="mono8",
                step=100,
                data=rng.integers(0, 256, 3600, dtype=np.uint8).tobytes(),
            )
        )
    return msg


@pytest.mark.parametrize(
    ("type_name", "factory"),
    [("lane_sad/msg/LaneArray", _lane_array), ("lane_sad/msg/LaneAttention", _attention)],
)
def test_round_trip_through_another_process(type_name: str, factory) -> None:
    """Publish here, echoed by a peer process, received here: every field survives."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    msg_type = type(factory())
    sent = factory()
    received = []
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    with running(python_command(PEERS / "echo.py", type_name, "rt_in", "rt_out")) as peer:
        spin = Spinner("round_trip")
        try:
            pub = spin.node.create_publisher(msg_type, "rt_in", qos)
            spin.node.create_subscription(msg_type, "rt_out", received.append, qos)

            def got_one() -> bool:
                if not received:
                    pub.publish(sent)
                return bool(received)

            assert wait_until(got_one, timeout=30, period=0.2), peer.stdout and peer.poll()
        finally:
            spin.close()
    assert received[0] == sent
    assert received[0] is not sent
