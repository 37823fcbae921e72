"""Peer process: republish every message of TYPE from topic IN on topic OUT, unchanged.

usage: echo.py PKG/msg/TYPE IN OUT
"""

import importlib
import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy


def main() -> None:
    type_name, topic_in, topic_out = sys.argv[1:4]
    pkg, _, cls = type_name.split("/")
    msg_type = getattr(importlib.import_module(f"{pkg}.msg"), cls)
    rclpy.init()
    node = rclpy.create_node("echo")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(msg_type, topic_out, qos)
    node.create_subscription(msg_type, topic_in, pub.publish, qos)
    print("echo: ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
