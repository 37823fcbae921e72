"""The node, started as its own process with the launch file's command, answers frames."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from rosutil import NODE_EXE, REPO, Spinner, running, wait_until

pytestmark = pytest.mark.ros


@pytest.fixture
def node_process():
    from lane_sad_ros.launch_spec import node_spec

    spec = node_spec(params_file=str(REPO / "config" / "lane_sad.yaml"), image_topic="cam/image")
    with running([sys.executable, *spec.command(NODE_EXE)], env=spec.env) as proc:
        yield proc


def test_each_frame_answered_with_its_header(node_process) -> None:
    from sensor_msgs.msg import Image

    from lane_sad.msg import LaneArray
    from lane_sad_ros.image_conv import bgr_to_image_msg

    spin = Spinner("camera")
    received: dict[int, LaneArray] = {}
    try:
        spin.node.create_subscription(LaneArray, "lanes", lambda m: received.setdefault(m.header.stamp.sec, m), 10)
        pub = spin.node.create_publisher(Image, "cam/image", 5)
        assert wait_until(lambda: pub.get_subscription_count() > 0, timeout=30), "node never subscribed"
        for sec in (11, 12, 13):
            msg = bgr_to_image_msg(np.zeros((48, 64 + sec, 3), np.uint8))
            msg.header.stamp.sec, msg.header.frame_id = sec, f"cam{sec}"
            pub.publish(msg)
            assert wait_until(lambda s=sec: s in received, timeout=10), f"no answer to frame {sec}"
    finally:
        spin.close()
    for sec in (11, 12, 13):
        out = received[sec]
        assert out.header.frame_id == f"cam{sec}"
        assert (out.image_width, out.image_height) == (64 + sec, 48)
        assert out.processing_ms >= 0.0
    assert node_process.poll() is None, "node died"
