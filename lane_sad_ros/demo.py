"""``make demo``: a road sequence played as a camera into the lane_sad node, over real ROS 2.

The node runs as its own process, started with the launch file's command
(:mod:`lane_sad_ros.launch_spec`) and the default parameters (the shipped model); this
process plays the camera at camera rate and listens to everything the node publishes.
Outputs in ``--out`` (default ``demo_out/``): the node's lane overlays (PNG and MP4) and
attention overlays, the received ``LaneArray`` messages (JSON), a latency histogram and a
summary table (also printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import rclpy
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from lane_sad.msg import LaneArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from lane_sad_core.data.sequence import SequenceFrame, demo_sequence
from lane_sad_core.infer.evaluate import EvalReport, score_frame
from lane_sad_core.lanes import Lane
from lane_sad_ros.child import start_child
from lane_sad_ros.image_conv import bgr_to_image_msg, image_msg_to_bgr
from lane_sad_ros.launch_spec import PACKAGE, installed_node_command, transport_env

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
# Inside --real-data: a labelled CULane clip the default model never trained on, and
# unlabelled frames from other cameras (see that folder's PROVENANCE.md).
REAL_CULANE_CLIP = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030822_0756.MP4"
REAL_UNLABELLED = "unlabelled/udacity__CarND-Advanced-Lane-Lines/test_images"
VIDEO_SIZE = (960, 540)


@dataclass
class Received:
    """What came back for the frames, keyed by frame index (= header stamp nanoseconds)."""

    lanes: dict[int, tuple[LaneArray, float]] = field(default_factory=dict)
    overlays: dict[int, np.ndarray] = field(default_factory=dict)
    attention: dict[int, np.ndarray] = field(default_factory=dict)
    diagnostics: dict[str, str] = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--rate", type=float, default=10.0, help="camera rate, Hz")
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic frames at the start")
    parser.add_argument("--checkpoint", default="", help="model (default: the shipped one)")
    parser.add_argument("--real-data", type=Path, default=Path(os.environ.get("LANE_SAD_REAL_DATA", DEFAULT_REAL)))
    return parser.parse_args(argv)


def start_node(checkpoint: str) -> subprocess.Popen:
    """The node process, exactly as the launch file starts it (ended with the demo, however it ends)."""
    cmd, env = installed_node_command({"checkpoint": checkpoint} if checkpoint else {})
    return start_child(cmd, {**os.environ, **env})


def listen(node, got: Received) -> None:
    """Subscribe to the node's outputs; overlays are decoded as they arrive."""

    def on_lanes(m: LaneArray) -> None:
        got.lanes.setdefault(m.header.stamp.nanosec, (m, time.monotonic()))

    def saver(store: dict[int, np.ndarray]):
        return lambda m: store.setdefault(m.header.stamp.nanosec, image_msg_to_bgr(m).copy())

    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(LaneArray, "lanes", on_lanes, 50)
    node.create_subscription(Image, "lanes/overlay", saver(got.overlays), qos)
    node.create_subscription(Image, "lanes/attention/overlay", saver(got.attention), qos)
    node.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: got.diagnostics.update({kv.key: kv.value for kv in m.status[0].values}),
        10,
    )


def spin_for(node, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        rclpy.spin_once(node, timeout_sec=left)


def play(node, frames: list[SequenceFrame], rate: float, got: Received, node_proc) -> dict[int, float]:
    """Publish the frames at ``rate``; returns each frame's send time."""
    pub = node.create_publisher(Image, "image", 1)
    deadline = time.monotonic() + 60
    while not got.lanes and time.monotonic() < deadline and node_proc.poll() is None:
        warm = bgr_to_image_msg(frames[0].image)
        warm.header.stamp.sec = 1  # warm-up frames: stamp.sec 1, ignored below
        pub.publish(warm)
        spin_for(node, 0.5)
    if not got.lanes:
        raise RuntimeError("the node did not answer within 60 s (see its log above)")
    got.lanes.clear()
    print(f"demo: node is up; playing {len(frames)} frames at {rate:g} Hz")
    sent = {}
    for i, frame in enumerate(frames):
        msg = bgr_to_image_msg(frame.image)
        msg.header.frame_id = "camera"
        msg.header.stamp.nanosec = i
        sent[i] = time.monotonic()
        pub.publish(msg)
        spin_for(node, 1.0 / rate)
    spin_for(node, 2.0)
    return sent


def write_outputs(out: Path, frames: list[SequenceFrame], sent: dict[int, float], got: Received) -> str:
    """Overlays, video, JSON, histogram and the summary table; returns the table."""
    for sub in ("overlays", "attention"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    video = cv2.VideoWriter(str(out / "overlays.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, VIDEO_SIZE)
    for i in sorted(got.overlays):
        cv2.imwrite(str(out / "overlays" / f"{i:04d}.png"), got.overlays[i])
        video.write(cv2.resize(got.overlays[i], VIDEO_SIZE))
    video.release()
    for i, image in got.attention.items():
        cv2.imwrite(str(out / "attention" / f"{i:04d}.png"), image)
    records = [_lane_array_json(frames[i].name, m) for i, (m, _) in sorted(got.lanes.items())]
    (out / "lanes.json").write_text(json.dumps(records, indent=1))
    latency = [1e3 * (t - sent[i]) for i, (_, t) in got.lanes.items()]
    processing = [m.processing_ms for m, _ in got.lanes.values()]
    _histogram(out / "latency.png", latency, processing)
    table = _summary(frames, got, latency)
    (out / "summary.md").write_text(table + "\n")
    return table


def _lane_array_json(name: str, m: LaneArray) -> dict:
    return {
        "frame": name,
        "stamp_ns": m.header.stamp.nanosec,
        "size": [m.image_width, m.image_height],
        "model": m.model_name,
        "inference_ms": round(m.inference_ms, 2),
        "processing_ms": round(m.processing_ms, 2),
        "lanes": [
            {
                "slot": ln.slot,
                "existence": round(ln.existence, 3),
                "points": [[round(p.x, 1), round(p.y, 1)] for p in ln.points],
            }
            for ln in m.lanes
        ],
    }


def _histogram(path: Path, latency: list[float], processing: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, max([*latency, *processing, 1.0]) * 1.05, 40).tolist()
    ax.hist(latency, bins=bins, alpha=0.6, label="published -> LaneArray received (end to end)")
    ax.hist(processing, bins=bins, alpha=0.6, label="inside the node (processing_ms)")
    ax.set_xlabel("ms")
    ax.set_ylabel("frames")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _summary(frames: list[SequenceFrame], got: Received, latency: list[float]) -> str:
    report = EvalReport()
    for i, (m, _) in got.lanes.items():
        truth = frames[i].lanes
        if truth is not None:
            pred = [Lane(np.array([[p.x, p.y] for p in ln.points]), ln.slot, ln.existence) for ln in m.lanes]
            score_frame(
                report,
                frames[i].category if frames[i].category == "real" else "synthetic",
                pred,
                truth,
                frames[i].image.shape[:2],
            )
    scores = report.as_dict()
    lanes_per_frame = np.mean([len(m.lanes) for m, _ in got.lanes.values()]) if got.lanes else 0.0
    p50, p95 = np.percentile(latency, [50, 95]) if latency else (float("nan"),) * 2
    rows = [
        "| frames sent | received | skipped (node) | lanes per frame | latency p50 ms | latency p95 ms |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {len(frames)} | {len(got.lanes)} | {got.diagnostics.get('frames_skipped', '?')} | "
        f"{lanes_per_frame:.2f} | {p50:.1f} | {p95:.1f} |",
        "",
        "| labelled frames | frames | F1 (CULane rule) | precision | recall | TuSimple-style accuracy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in scores["categories"].items():
        f1 = "—" if s["f1"] is None else f"{s['f1']:.3f}"
        prec = "—" if s["precision"] is None else f"{s['precision']:.3f}"
        rec = "—" if s["recall"] is None else f"{s['recall']:.3f}"
        rows.append(f"| {name} | {s['frames']} | {f1} | {prec} | {rec} | {s['tusimple_accuracy']:.3f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; non-zero when frames went unanswered or the node died."""
    args = parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    share = Path(get_package_share_directory(PACKAGE))
    os.environ.update(transport_env(share / "config", dict(os.environ)))
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"demo: preparing the road sequence in {args.out} (real frames: {args.real_data})")
    real = args.real_data.is_dir()
    frames = demo_sequence(
        args.out / "inputs",
        args.real_data / REAL_CULANE_CLIP if real else None,
        args.real_data / REAL_UNLABELLED if real else None,
        args.synthetic,
    )
    node_proc = start_node(args.checkpoint)
    rclpy.init()
    node = rclpy.create_node("demo_camera")
    got = Received()
    try:
        listen(node, got)
        sent = play(node, frames, args.rate, got, node_proc)
        table = write_outputs(args.out, frames, sent, got)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        node_proc.send_signal(2)
        node_proc.wait(timeout=10)
    print(table)
    print(f"demo: overlays, attention, lanes.json, latency.png and summary.md in {args.out}")
    skipped = int(got.diagnostics.get("frames_skipped", 0))
    lost = len(frames) - len(got.lanes) - skipped  # neither answered nor skipped by the node
    print(f"demo: {len(got.lanes)} answered, {skipped} skipped by the node (newest frame wins), {lost} lost")
    return 0 if got.lanes and lost <= 0.02 * len(frames) else 1


if __name__ == "__main__":
    sys.exit(main())
