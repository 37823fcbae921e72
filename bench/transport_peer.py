"""One side of the transport benchmark: a camera-like publisher, a subscriber, or a probe.

``bench_transport.py`` starts these as separate OS processes, each with its own Fast DDS
environment, and talks to them over stdin/stdout in JSON lines that start with ``@@``
(anything else on stdout is ROS logging and is ignored):

* ``pub`` and ``sub`` print ``{"event": "matched"}`` once their DDS endpoints have matched;
  the publisher then waits for ``go`` on stdin, publishes ``--frames`` images at ``--rate``
  (``header.stamp`` = wall-clock send time, ``header.frame_id`` = sequence number) and
  prints ``done``; the subscriber prints its ``result`` on ``stop``. Only frames sent after
  ``go`` exist, so every count is of frames sent after matching.
* ``probe`` creates a participant alone and prints the ``inventory`` of what Fast DDS
  actually opened in this process (its shared-memory segments, UDP and TCP sockets), which
  shows whether a transport setting took effect at all.

Every wait is bounded by ``--max-seconds`` and ends early when ROS is shut down (SIGINT).

usage: transport_peer.py {pub,sub,probe} [--qos {best_effort,reliable}] [--depth N] [...]
"""

from __future__ import annotations

import argparse
import array
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

TOPIC = "bench_image"
# A participant's own segment is /dev/shm/fastdds_<16 hex>; ports are fastdds_port<N>.
SEGMENT_PATH = re.compile(r"/dev/shm/fastdds_[0-9a-f]{16}")


def qos_profile(kind: str, depth: int) -> QoSProfile:
    """``best_effort`` is sensor-data QoS with the given depth; ``reliable`` keeps last N."""
    reliability = ReliabilityPolicy.BEST_EFFORT if kind == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=reliability,
        durability=DurabilityPolicy.VOLATILE,
    )


def report(event: str, **fields: object) -> None:
    """One protocol line for the orchestrator."""
    print("@@ " + json.dumps({"event": event, **fields}), flush=True)


class StdinCommands:
    """Commands arriving on stdin, read by a daemon thread so spinning never blocks on them."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            with self._cond:
                self._seen.add(line.strip())
                self._cond.notify_all()
        with self._cond:  # stdin closed: the orchestrator is gone, stop
            self._seen.add("stop")
            self._cond.notify_all()

    def seen(self, command: str) -> bool:
        with self._cond:
            return command in self._seen

    def wait(self, command: str, timeout: float) -> bool:
        """True once ``command`` arrived; False after ``timeout`` or on ROS shutdown."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while command not in self._seen and rclpy.ok() and time.monotonic() < deadline:
                self._cond.wait(0.1)
            return command in self._seen


def test_image(width: int, height: int) -> Image:
    """A bgr8 frame whose data is already an ``array.array`` (the setter's fast path)."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = (np.arange(width, dtype=np.uint16) % 256).astype(np.uint8)[None, :, None]
    msg = Image(height=height, width=width, encoding="bgr8", step=width * 3)
    msg.data = array.array("B", pixels.tobytes())
    return msg


def wait_matched(executor: SingleThreadedExecutor, count: Callable[[], int], timeout: float) -> bool:
    """Spin until ``count()`` (matched endpoints) is non-zero."""
    deadline = time.monotonic() + timeout
    while rclpy.ok() and time.monotonic() < deadline:
        if count() > 0:
            return True
        executor.spin_once(timeout_sec=0.02)
    return False


def run_publisher(args: argparse.Namespace, node: Node, executor: SingleThreadedExecutor) -> None:
    """Publish ``args.frames`` frames at ``args.rate`` once told ``go``."""
    commands = StdinCommands()
    pub = node.create_publisher(Image, TOPIC, qos_profile(args.qos, args.depth))
    if not wait_matched(executor, pub.get_subscription_count, args.max_seconds):
        report("error", reason="publisher: no subscription matched")
        return
    report("matched")
    msg = test_image(args.width, args.height)
    if not commands.wait("go", args.max_seconds):
        report("error", reason="publisher: no 'go'")
        return
    publish_ms: list[float] = []
    start = time.monotonic()
    for seq in range(args.frames):
        due = start + seq / args.rate
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(time.time_ns(), 1_000_000_000)
        msg.header.frame_id = str(seq)
        t0 = time.perf_counter()
        pub.publish(msg)
        publish_ms.append((time.perf_counter() - t0) * 1e3)
    report("done", sent=args.frames, seconds=time.monotonic() - start, publish_ms=publish_ms)
    commands.wait("stop", args.max_seconds)  # stay up: reliable writers may still resend


def minor_page_faults() -> int:
    """Minor page faults of this process so far (each first touch of a freshly mapped page)."""
    with open("/proc/self/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])


def run_subscriber(args: argparse.Namespace, node: Node, executor: SingleThreadedExecutor) -> None:
    """Record sequence, latency and callback cost of every frame until told ``stop``."""
    commands = StdinCommands()
    seqs: list[int] = []
    latency_ms: list[float] = []
    callback_ms: list[float] = []

    def on_image(msg: Image) -> None:
        arrived = time.time_ns()
        t0 = time.perf_counter()
        pixels = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
        _ = int(pixels[msg.height // 2, msg.width // 2, 0])  # touch the data like a consumer
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        seqs.append(int(msg.header.frame_id))
        latency_ms.append((arrived - stamp) / 1e6)
        callback_ms.append((time.perf_counter() - t0) * 1e3)

    sub = node.create_subscription(Image, TOPIC, on_image, qos_profile(args.qos, args.depth))
    if not wait_matched(executor, sub.get_publisher_count, args.max_seconds):
        report("error", reason="subscriber: no publisher matched")
        return
    report("matched")
    # CPU time of this thread per spin: a spin that delivered a frame took, converted and
    # called back; an idle one only waited and timed out.
    spin_ms: dict[str, list[float]] = {"message": [], "idle": []}
    cpu0, faults0 = time.process_time(), minor_page_faults()
    deadline = time.monotonic() + args.max_seconds
    while rclpy.ok() and not commands.seen("stop") and time.monotonic() < deadline:
        before, spin_cpu0 = len(seqs), time.thread_time()
        executor.spin_once(timeout_sec=0.02)
        kind = "message" if len(seqs) > before else "idle"
        spin_ms[kind].append((time.thread_time() - spin_cpu0) * 1e3)
    report(
        "result",
        seqs=seqs,
        latency_ms=latency_ms,
        callback_ms=callback_ms,
        spin_message_ms=spin_ms["message"],
        spin_idle_ms=spin_ms["idle"],
        cpu_s=time.process_time() - cpu0,
        minor_faults=minor_page_faults() - faults0,
    )


def transport_inventory() -> dict[str, object]:
    """This process's Fast DDS segments (MB) and IP sockets (kind, receive buffer, listening).

    Buffer sizes are as the kernel reports them: twice what was requested, capped by
    ``net.core.rmem_max`` / ``wmem_max``.
    """
    segments: dict[str, int] = {}
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if SEGMENT_PATH.fullmatch(path):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                segments[path] = segments.get(path, 0) + end - start
    sockets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
        except OSError:  # the fd was closed meanwhile
            continue
        sock = socket.socket(fileno=int(fd))
        try:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sockets.append(
                    {
                        "kind": "tcp" if sock.type == socket.SOCK_STREAM else "udp",
                        "rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                        "listening": bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)),
                    }
                )
        finally:
            sock.detach()
    return {
        "shm_segments_mb": sorted(round(v / 2**20, 2) for v in segments.values()),
        "sockets": sockets,
    }


def run_probe(args: argparse.Namespace, node: Node, executor: SingleThreadedExecutor) -> None:
    """Report what the participant opened, after a moment for its transports to start."""
    end = time.monotonic() + args.settle
    while rclpy.ok() and time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
    report("inventory", **transport_inventory())


ROLES = {"pub": run_publisher, "sub": run_subscriber, "probe": run_probe}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=tuple(ROLES))
    parser.add_argument("--qos", choices=("best_effort", "reliable"), default="best_effort")
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--settle", type=float, default=0.3, help="probe: seconds before the inventory")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="bound on every wait")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rclpy.init()
    node = rclpy.create_node(f"bench_transport_{args.role}")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        ROLES[args.role](args, node, executor)
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
