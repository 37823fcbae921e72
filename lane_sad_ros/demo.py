"""``make demo``: camera frames published from this process into the node's process.

The node is started as its own process with the launch file's command
(:mod:`lane_sad_ros.launch_spec`) and the default parameters file; this process plays the
camera, publishing frames at camera rate, and prints every ``LaneArray`` that comes back.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from ament_index_python.packages import get_package_prefix, get_package_share_directory
from rclpy.qos import qos_profile_sensor_data

from lane_sad.msg import LaneArray
from lane_sad_ros.image_conv import bgr_to_image_msg
from lane_sad_ros.launch_spec import EXECUTABLE, PACKAGE, node_spec, transport_env

REAL_FRAMES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def demo_frames(real_dir: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """Up to ``count`` real road frames, or synthetic ones where none are found."""
    paths = sorted(real_dir.glob("culane/**/*.jpg"))[:count] if real_dir.is_dir() else []
    frames = [(p.name, cv2.imread(str(p))) for p in paths]
    if frames:
        return frames
    h, w = 590, 1640
    out = []
    for i in range(count):
        img = np.full((h, w, 3), 90, np.uint8)
        img[: h // 3] = (200, 160, 120)  # sky
        for x0 in (300 + 5 * i, 1300 - 5 * i):
            cv2.line(img, (x0, h), (w // 2, h // 3), (255, 255, 255), 8)
        out.append((f"synthetic_{i:03d}", img))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20, help="frames to publish")
    parser.add_argument("--rate", type=float, default=10.0, help="camera rate, Hz")
    parser.add_argument("--real-data", type=Path, default=Path(os.environ.get("LANE_SAD_REAL_DATA", REAL_FRAMES)))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns non-zero when frames went unanswered."""
    args = parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    frames = demo_frames(args.real_data, args.frames)
    share = Path(get_package_share_directory(PACKAGE))
    os.environ.update(transport_env(share / "config", dict(os.environ)))
    exe = Path(get_package_prefix(PACKAGE)) / "lib" / PACKAGE / EXECUTABLE
    spec = node_spec(params_file=str(share / "config" / "lane_sad.yaml"), config_dir=share / "config")
    node_proc = subprocess.Popen([sys.executable, *spec.command(exe)], env={**os.environ, **spec.env})
    rclpy.init()
    cam = rclpy.create_node("demo_camera")
    received: dict[int, tuple[LaneArray, float]] = {}
    cam.create_subscription(LaneArray, "lanes", lambda m: received.setdefault(
        m.header.stamp.sec, (m, time.monotonic())), 10)
    pub = cam.create_publisher(type(bgr_to_image_msg(frames[0][1])), "image", 5)
    try:
        deadline = time.monotonic() + 30
        while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(cam, timeout_sec=0.1)
        print(f"demo: node up, publishing {len(frames)} frames at {args.rate:g} Hz")
        sent_at = {}
        for i, (name, img) in enumerate(frames):
            msg = bgr_to_image_msg(img)
            msg.header.frame_id = name
            msg.header.stamp.sec = i
            sent_at[i] = time.monotonic()
            pub.publish(msg)
            end = time.monotonic() + 1.0 / args.rate
            while time.monotonic() < end:
                rclpy.spin_once(cam, timeout_sec=max(0.0, end - time.monotonic()))
        end = time.monotonic() + 2.0
        while len(received) < len(frames) and time.monotonic() < end:
            rclpy.spin_once(cam, timeout_sec=0.05)
        for i in sorted(received):
            m, t = received[i]
            print(f"  frame {i:3d} {m.header.frame_id:>28s} {m.image_width}x{m.image_height} "
                  f"lanes={len(m.lanes)} model={m.model_name} round-trip={1e3 * (t - sent_at[i]):.1f} ms")
        print(f"demo: sent {len(frames)}, received {len(received)} LaneArray messages")
        return 0 if received else 1
    finally:
        cam.destroy_node()
        rclpy.try_shutdown()
        node_proc.send_signal(2)
        node_proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
