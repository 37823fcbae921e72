"""The node end to end: image published -> LaneArray received, against the model's own time.

Starts ``lane_sad_node`` as its own process with the launch file's command (default
parameters, the shipped model unless ``--checkpoint``), plays 1280x720 bgr8 frames into it
from this process at a rate the model keeps up with, and in the same run times the model
alone (``LaneDetector.detect`` on the same frames, same checkpoint, in this process).

    python bench/bench_node.py --out bench/results      # writes node.md and prints it

Node overhead = (end-to-end median - detector median) / detector median: what conversion,
transport, message building and the node's threads add to the model's pre/infer/post.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


def frames_1280x720(n: int) -> list[np.ndarray]:
    """Real 1280x720 road frames when present (cycled), else synthetic ones."""
    paths = sorted(REAL.glob("tusimple/liuruijin17__LSTR/raws/*_images/*.jpg"))
    if paths:
        imgs = [cv2.imread(str(p)) for p in paths]
        return [imgs[i % len(imgs)] for i in range(n)]
    from lane_sad_core.data.sequence import synthetic_frames

    tmp = Path("/tmp/lane_sad_bench_frames")
    return [f.image for f in synthetic_frames(tmp, n, seed=3)]


def offline_ms(checkpoint: str | None, frames: list[np.ndarray]) -> list[float]:
    from lane_sad_core.infer.detector import LaneDetector

    det = LaneDetector(checkpoint or None, device="cpu")
    for f in frames[:3]:
        det.detect(f)
    out = []
    for f in frames:
        t0 = time.perf_counter()
        det.detect(f)
        out.append(1e3 * (time.perf_counter() - t0))
    return out


def online_ms(checkpoint: str | None, frames: list[np.ndarray], rate: float) -> tuple[list[float], list[float], int]:
    """End-to-end latencies, the node's processing_ms, and frames answered."""
    import rclpy
    from ament_index_python.packages import get_package_share_directory
    from sensor_msgs.msg import Image

    from lane_sad.msg import LaneArray
    from lane_sad_ros.image_conv import bgr_to_image_msg
    from lane_sad_ros.launch_spec import PACKAGE, installed_node_command, transport_env

    share = Path(get_package_share_directory(PACKAGE))
    os.environ.update(transport_env(share / "config", dict(os.environ)))
    cmd, env = installed_node_command({"checkpoint": checkpoint} if checkpoint else {})
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    node = rclpy.create_node("bench_camera")
    got: dict[int, tuple[float, float]] = {}
    node.create_subscription(LaneArray, "lanes", lambda m: got.setdefault(
        m.header.stamp.nanosec, (time.perf_counter(), m.processing_ms)), 50)
    pub = node.create_publisher(Image, "image", 1)
    msgs = [bgr_to_image_msg(f) for f in frames]
    try:
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:  # warm-up until the node answers
            msgs[0].header.stamp.sec = 1
            pub.publish(msgs[0])
            rclpy.spin_once(node, timeout_sec=0.5)
        got.clear()
        sent = {}
        for i, msg in enumerate(msgs):
            msg.header.stamp.sec, msg.header.stamp.nanosec = 0, i
            sent[i] = time.perf_counter()
            pub.publish(msg)
            end = time.perf_counter() + 1.0 / rate
            while (left := end - time.perf_counter()) > 0:
                rclpy.spin_once(node, timeout_sec=left)
        end = time.perf_counter() + 2.0
        while len(got) < len(msgs) and time.perf_counter() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        proc.send_signal(2)
        proc.wait(timeout=10)
    e2e = [1e3 * (t - sent[i]) for i, (t, _) in got.items()]
    return e2e, [p for _, p in got.values()], len(got)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="Hz; below the model's rate")
    args = parser.parse_args()
    frames = frames_1280x720(args.frames)
    model = offline_ms(args.checkpoint, frames)
    e2e, processing, answered = online_ms(args.checkpoint, frames, args.rate)
    med = {k: float(np.median(v)) for k, v in {"model": model, "e2e": e2e, "proc": processing}.items()}
    overhead = (med["e2e"] - med["model"]) / med["model"]
    load = os.getloadavg()[0]
    table = "\n".join([
        "# The node end to end vs the model alone",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.2f}. "
        f"{len(frames)} frames 1280x720 bgr8 at {args.rate:g} Hz; checkpoint: "
        f"{args.checkpoint or 'the shipped default'}. Written by `bench/bench_node.py`.",
        "",
        "| measure | median ms | p95 ms |",
        "|---|---:|---:|",
        f"| detector alone (pre + network + post, this process) | {med['model']:.1f} | {np.percentile(model, 95):.1f} |",
        f"| inside the node (arrival to publication, processing_ms) | {med['proc']:.1f} | {np.percentile(processing, 95):.1f} |",
        f"| end to end (published -> LaneArray received) | {med['e2e']:.1f} | {np.percentile(e2e, 95):.1f} |",
        "",
        f"Frames answered: {answered} of {len(frames)}. Node overhead over the detector: "
        f"**{100 * overhead:+.1f} %** (target < 20 %).",
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "node.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
