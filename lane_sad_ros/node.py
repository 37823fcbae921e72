"""The lane detector node: camera images in, ``lane_sad/LaneArray`` out.

Walking skeleton: it answers every image with a ``LaneArray`` that carries the image's
header and size and no lanes yet; the model is wired in by the lane-detector issue.
"""

from __future__ import annotations

import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image

from lane_sad.msg import LaneArray


class LaneDetectorNode(Node):
    """Subscribes ``image``, publishes ``lanes`` (relative names, so remaps work)."""

    def __init__(self) -> None:
        super().__init__("lane_sad")
        self.model_name = self.declare_parameter("model_name", "skeleton").value
        reliable = self.declare_parameter("reliable_input", False).value
        qos = QoSProfile(depth=1) if reliable else qos_profile_sensor_data
        self.lanes_pub = self.create_publisher(LaneArray, "lanes", 10)
        self.image_sub = self.create_subscription(Image, "image", self.on_image, qos)

    def on_image(self, msg: Image) -> None:
        """Answer one image with its ``LaneArray``."""
        start = time.perf_counter()
        out = LaneArray()
        out.header = msg.header
        out.image_width, out.image_height = msg.width, msg.height
        out.model_name = self.model_name
        out.processing_ms = (time.perf_counter() - start) * 1e3
        self.lanes_pub.publish(out)


def main(args: list[str] | None = None) -> int:
    """Console-script entry: spin until SIGINT/SIGTERM, then shut down cleanly."""
    rclpy.init(args=args)
    node = LaneDetectorNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
