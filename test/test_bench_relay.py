"""``bench/relay_node.py``, the node benchmark's transport floor: it answers every frame at once,
over real DDS, with the node's input QoS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rosutil import REPO, python_command, running, wait_until
from test_node import Camera, _frame

from lane_sad_ros.params import NodeParams

pytestmark = [pytest.mark.ros]


@pytest.fixture()
def camera() -> Iterator[Camera]:
    cam = Camera(reliable=False)  # the node's default input QoS is best effort
    yield cam
    cam.close()


def test_the_relay_answers_each_frame_with_its_header_and_no_lanes(camera: Camera) -> None:
    cmd = python_command(REPO / "bench" / "relay_node.py", "--ros-args", "-r", "image:=cam/image")
    with running(cmd) as proc:
        camera.wait_for_node(proc)
        keys = [5_000_000_001, 5_000_000_002, 5_000_000_003]
        for key in keys:
            camera.send(_frame(), key)
            assert wait_until(lambda key=key: key in camera.lanes, 10), f"no answer to frame {key}"
    for key in keys:
        answer = camera.lanes[key]
        assert answer.header.frame_id == "front" and list(answer.lanes) == [] and answer.inference_ms == 0.0


def test_input_qos_follows_the_parameters() -> None:
    from rclpy.qos import HistoryPolicy, ReliabilityPolicy

    default = NodeParams().input_qos()
    assert (default.reliability, default.depth) == (ReliabilityPolicy.BEST_EFFORT, 1)
    reliable = NodeParams(qos_reliability="reliable", qos_depth=3).input_qos()
    assert (reliable.reliability, reliable.depth, reliable.history) == (
        ReliabilityPolicy.RELIABLE,
        3,
        HistoryPolicy.KEEP_LAST,
    )
