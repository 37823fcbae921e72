"""The transport floor for ``bench_node.py``: a node that answers every frame at once, doing nothing.

It subscribes to the camera topic as ``lane_sad_node`` does (same message type, QoS and,
started by the benchmark, the same Fast DDS profile and glibc tunables) and publishes an
empty ``LaneArray`` with the frame's header from the subscription callback. End to end
through it is what rclpy and DDS cost to carry the frame one way and a small answer back:
the part of the node's end-to-end time that no change to the node can remove (rclpy has
neither loaned messages nor intra-process transport).

    python bench/relay_node.py [--compressed]
"""

from __future__ import annotations

import argparse

import rclpy
from lane_sad.msg import LaneArray
from sensor_msgs.msg import CompressedImage, Image

from lane_sad_ros.params import NodeParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compressed", action="store_true", help="subscribe to image/compressed")
    args, _ = parser.parse_known_args()  # ROS arguments pass through
    rclpy.init()
    node = rclpy.create_node("bench_relay")
    qos = NodeParams().input_qos()  # the node's defaults, as config/lane_sad.yaml keeps them
    pub = node.create_publisher(LaneArray, "lanes", 10)

    def answer(msg: Image | CompressedImage) -> None:
        pub.publish(LaneArray(header=msg.header))

    topic, kind = ("image/compressed", CompressedImage) if args.compressed else ("image", Image)
    node.create_subscription(kind, topic, answer, qos)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
