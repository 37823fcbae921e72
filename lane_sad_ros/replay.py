"""Replay a camera bag into the lane_sad node (its own process) and record what it answers.

``ros2 bag play`` is not installable everywhere, and a replay for evaluation needs more
than playback: this module starts the node exactly as the launch file does
(:func:`~lane_sad_ros.launch_spec.node_spec`, with ``use_sim_time`` and the shipped Fast
DDS transport), publishes ``/clock`` and the bag's camera topics over real ROS 2 topics,
and writes an MCAP bag with

* the node's ``/lanes`` and ``/diagnostics``, logged at the simulated time they arrived;
* ``/replay/sent`` / ``/replay/received``: wall-clock publication and answer times per
  frame (sensor_msgs/TimeReference, header stamp = the frame's);
* every other topic of the input bag (ground truth, ...) copied unchanged.

Camera topics (Image, CompressedImage, CameraInfo) are published, not copied. Messages are
forwarded as the CDR bytes stored in the bag, so the node receives exactly the recorded
frames. Timing: the bag's own (scaled by ``rate``), or with ``max_rate`` one frame at a
time, each sent when the previous one was answered (or timed out).

Before playing, the node must answer a warm-up frame (the first image, with frame_id
:data:`WARMUP_FRAME_ID`): discovery, the data path and the model's first, slow call are
then done, and the replay's latencies are the node's steady state. The output bag is
written as frames go and is closed in every case, so a replay that stops on a damaged
input bag leaves a valid bag of everything up to the damage.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lane_sad_core.errors import LaneSadError
from lane_sad_ros.bag import topics
from lane_sad_ros.bag.convert import NS, stamp_ns, time_reference
from lane_sad_ros.bag.errors import BagError, ReplayError
from lane_sad_ros.bag.reader import BagReader, TopicInfo
from lane_sad_ros.bag.types import typestore
from lane_sad_ros.bag.writer import BagWriter
from lane_sad_ros.child import start_child
from lane_sad_ros.launch_spec import installed_node_command

WARMUP_FRAME_ID = "lane_sad_replay_warmup"
RECORDED = {
    topics.LANES: "lane_sad/msg/LaneArray",
    topics.DIAGNOSTICS: "diagnostic_msgs/msg/DiagnosticArray",
    topics.SENT: "sensor_msgs/msg/TimeReference",
    topics.RECEIVED: "sensor_msgs/msg/TimeReference",
}
NOT_COPIED = {*RECORDED, topics.CLOCK}

Progress = Callable[[Iterable, int], Iterable]


@dataclass
class ReplayConfig:
    """What to replay and how.

    Attributes:
        bag: the input bag (folder, ``.mcap`` or ``.db3``).
        out: the output bag folder to create (MCAP).
        rate: playback speed factor of the bag's timing (2 = twice as fast).
        max_rate: ignore the bag's timing; send each frame once the previous was answered.
        timeout_s: how long to wait for an answer (per frame with ``max_rate``, and for
            the last frame at the end).
        params_file: the node's parameters YAML (default: the installed config/lane_sad.yaml).
        checkpoint: model checkpoint (default: the parameters file's).
        image_topic: the camera topic the node subscribes (default: the bag's only image topic).
        startup_timeout_s: how long the node may take to come up and answer the warm-up.
    """

    bag: Path
    out: Path
    rate: float = 1.0
    max_rate: bool = False
    timeout_s: float = 10.0
    params_file: Path | None = None
    checkpoint: Path | None = None
    image_topic: str | None = None
    startup_timeout_s: float = 120.0


@dataclass
class ReplayResult:
    """Counts and wall time of a finished replay."""

    out: Path
    node_log: Path
    sent: int
    answered: int
    copied: int
    wall_s: float
    warnings: list[str] = dataclasses.field(default_factory=list)


def choose_image_topic(reader: BagReader, wanted: str | None) -> TopicInfo:
    """The camera topic to feed the node: ``wanted``, or the bag's only image topic."""
    images = [t for t in reader.topics.values() if t.msgtype in topics.IMAGE_TYPES]
    if wanted is not None:
        match = [t for t in images if t.name == wanted]
        if not match:
            raise BagError(
                f"{reader.path}: no image topic '{wanted}' (image topics: "
                f"{', '.join(t.name for t in images) or 'none'})"
            )
        return match[0]
    if not images and reader.damage:
        raise BagError(f"{reader.path}: damaged before any image topic could be read ({reader.damage})")
    if not images:
        raise BagError(f"{reader.path}: no image topic (sensor_msgs/Image or CompressedImage) to play")
    if len(images) > 1:
        raise BagError(
            f"{reader.path}: {len(images)} image topics ({', '.join(t.name for t in images)}); "
            "choose one with --image-topic"
        )
    return images[0]


def _message_class(msgtype: str) -> type:
    """The rclpy class of ``pkg/msg/Name``."""
    pkg, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def _qos(topic: TopicInfo):
    """The publisher QoS of a camera topic: its recorded offered QoS, like ``ros2 bag play``."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    if not topic.qos:
        return QoSProfile(depth=10)
    q = topic.qos[0]
    reliable = q.reliability.name != "BEST_EFFORT"
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max(q.depth, 1),
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=(
            DurabilityPolicy.TRANSIENT_LOCAL if q.durability.name == "TRANSIENT_LOCAL" else DurabilityPolicy.VOLATILE
        ),
    )


def node_command(cfg: ReplayConfig, image: TopicInfo) -> tuple[list[str], dict[str, str]]:
    """The node's command line and environment: the launch file's, with sim time.

    A CompressedImage topic ``X/compressed`` becomes the node's ``image`` remapped to ``X``
    with ``compressed_input``: the node follows image_transport's naming from there.
    """
    params: dict[str, object] = {"use_sim_time": True}
    if cfg.checkpoint is not None:
        params["checkpoint"] = str(Path(cfg.checkpoint).resolve())
    compressed = image.msgtype.endswith("CompressedImage")
    if compressed:
        params["compressed_input"] = True
    base = image.name.removesuffix("/compressed") if compressed else image.name
    return installed_node_command(params, base, cfg.params_file)


class _Link:
    """The replay's ROS side: publishes clock and camera, records the node's answers."""

    def __init__(self, camera: list[TopicInfo]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile
        from rclpy.signals import SignalHandlerOptions
        from rosgraph_msgs.msg import Clock

        self.context = rclpy.Context()
        # The command's own handlers stop the replay (lane_sad_core.interrupts); rclpy's would
        # shut this context down under the recording and then end the process.
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(f"lane_sad_replay_{os.getpid()}", context=self.context)
        self.clock_pub = self.node.create_publisher(Clock, topics.CLOCK, QoSProfile(depth=1))
        self.pubs: dict[str, Any] = {
            t.name: self.node.create_publisher(_message_class(t.msgtype), t.name, _qos(t)) for t in camera
        }
        lanes_cls, diag_cls = _message_class(RECORDED[topics.LANES]), _message_class(RECORDED[topics.DIAGNOSTICS])
        self.node.create_subscription(lanes_cls, topics.LANES, self._on_lanes, 50, raw=True)
        self.node.create_subscription(diag_cls, topics.DIAGNOSTICS, self._on_diagnostics, 10, raw=True)
        self._clock_cls = Clock
        self._lock = threading.Condition()
        self._writer: BagWriter | None = None
        self.sim_ns = 0
        self.answered: dict[int, int] = {}  # frame stamp -> wall-clock arrival (ns)
        self.warm = threading.Event()
        self.error: Exception | None = None
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name="lane_sad_replay_spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception as exc:  # a failing callback stops the replay; shutdown ends spinning
                if self.context.ok():
                    self.error = exc
                return

    # --- callbacks (executor thread) -----------------------------------------------------
    def _on_lanes(self, raw: bytes) -> None:
        arrived = time.time_ns()
        msg: Any = typestore().deserialize_cdr(raw, RECORDED[topics.LANES])
        if msg.header.frame_id == WARMUP_FRAME_ID:
            self.warm.set()
            return
        frame = stamp_ns(msg.header.stamp)
        with self._lock:
            if self._writer is not None:
                self._writer.write_raw(topics.LANES, self.sim_ns, raw)
                self._writer.write(topics.RECEIVED, self.sim_ns, time_reference(frame, arrived, "lanes"))
            self.answered.setdefault(frame, arrived)
            self._lock.notify_all()

    def _on_diagnostics(self, raw: bytes) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.write_raw(topics.DIAGNOSTICS, self.sim_ns, raw)

    # --- main thread ---------------------------------------------------------------------
    def record_into(self, writer: BagWriter | None) -> None:
        """Start (or with None, stop) writing answers and diagnostics into ``writer``."""
        with self._lock:
            self._writer = writer

    def write(self, topic: str, timestamp_ns: int, msg: Any = None, raw: bytes | None = None) -> None:
        """Write into the output bag, in step with the callbacks."""
        with self._lock:
            if self._writer is not None:
                if raw is not None:
                    self._writer.write_raw(topic, timestamp_ns, raw)
                else:
                    self._writer.write(topic, timestamp_ns, msg)

    def publish_clock(self, ns: int) -> None:
        with self._lock:
            self.sim_ns = ns
        clock = self._clock_cls()
        clock.clock.sec, clock.clock.nanosec = divmod(ns, NS)
        self.clock_pub.publish(clock)

    def publish(self, topic: str, raw: bytes) -> None:
        self.pubs[topic].publish(bytes(raw))

    def wait_answer(self, frame_ns: int, timeout_s: float) -> bool:
        """Wait until the node answered the frame stamped ``frame_ns``."""
        with self._lock:
            return self._lock.wait_for(lambda: frame_ns in self.answered, timeout_s)

    def connected(self, image_topic: str) -> bool:
        return self.pubs[image_topic].get_subscription_count() > 0 and self.node.count_publishers(topics.LANES) > 0

    def close(self) -> None:
        self.record_into(None)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=2.0)


def _node_failure(proc: subprocess.Popen, log: Path, what: str) -> ReplayError:
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.is_file() else []
    code = proc.poll()
    state = f"exited with code {code}" if code is not None else "is running"
    return ReplayError(f"{what}: the node {state}; {tail[0] if tail else 'no output'} (log: {log})")


def _start_node(
    link: _Link, proc: subprocess.Popen, log: Path, image: TopicInfo, first: Any, first_ns: int, timeout_s: float
) -> None:
    """Wait for discovery, then until the node answers a warm-up frame."""
    deadline = time.monotonic() + timeout_s
    while not link.connected(image.name):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise _node_failure(proc, log, "node did not come up")
        time.sleep(0.05)
    warm = dataclasses.replace(first, header=dataclasses.replace(first.header, frame_id=WARMUP_FRAME_ID))
    raw = bytes(typestore().serialize_cdr(warm, warm.__msgtype__))
    link.publish_clock(first_ns)
    link.publish(image.name, raw)
    while not link.warm.wait(0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise _node_failure(proc, log, "node never answered the warm-up frame")
        link.publish(image.name, raw)  # best-effort frames can be lost: send again


def _stop_node(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Player:
    """The playback loop over the input bag's messages."""

    def __init__(
        self, cfg: ReplayConfig, reader: BagReader, link: _Link, image: TopicInfo, proc: subprocess.Popen, log: Path
    ) -> None:
        self.cfg, self.reader, self.link, self.image, self.proc, self.log = cfg, reader, link, image, proc, log
        self.sent = self.copied = 0
        self.undecodable: list[str] = []  # frames that are not valid messages: not sent
        self.last_frame: int | None = None
        self._start: tuple[float, int] | None = None  # (wall monotonic, bag time) of the first message

    def _wait_for(self, bag_ns: int) -> None:
        if self.cfg.max_rate:
            return
        if self._start is None:
            self._start = (time.monotonic(), bag_ns)
        delay = self._start[0] + (bag_ns - self._start[1]) / NS / self.cfg.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def play(self, progress: Progress | None) -> None:
        messages = self.reader.messages()
        for topic, t, raw in progress(messages, self.reader.message_count) if progress else messages:
            if topic.name in self.link.pubs:
                self._wait_for(t)
                self.link.publish_clock(t)
                if topic.name == self.image.name:
                    self._send_frame(topic, t, raw)
                else:
                    self.link.publish(topic.name, raw)
            elif topic.name not in NOT_COPIED:
                self.link.write(topic.name, t, raw=raw)
                self.copied += 1
        if self.last_frame is not None:
            self.link.wait_answer(self.last_frame, self.cfg.timeout_s)
        if self.link.error is not None:
            raise ReplayError(f"recording failed: {type(self.link.error).__name__}: {self.link.error}")

    def _send_frame(self, topic: TopicInfo, t: int, raw: bytes) -> None:
        if self.proc.poll() is not None:
            raise _node_failure(self.proc, self.log, f"replay stopped after {self.sent} frames")
        if self.link.error is not None:
            raise ReplayError(
                f"recording failed after {self.sent} frames: {type(self.link.error).__name__}: {self.link.error}"
            )
        try:
            frame = stamp_ns(self.reader.decode(topic, raw).header.stamp)
        except BagError as exc:
            self.undecodable.append(str(exc))
            return
        sent = time.time_ns()
        self.link.publish(topic.name, raw)
        self.link.write(topics.SENT, t, time_reference(frame, sent, "sent"))
        self.sent += 1
        self.last_frame = frame
        if self.cfg.max_rate:
            self.link.wait_answer(frame, self.cfg.timeout_s)


def _warmup_frame(reader: BagReader, image: TopicInfo) -> tuple[Any, int, list[str]]:
    """The first frame the node can read, and why each frame before it cannot.

    A frame the node drops (a corrupt message, an image it cannot convert) would never be
    answered, so it cannot be the warm-up; it is still played in its turn.
    """
    from lane_sad_ros.image_conv import compressed_msg_to_bgr, image_msg_view

    convert = compressed_msg_to_bgr if image.msgtype.endswith("CompressedImage") else image_msg_view
    bad: list[str] = []
    for topic, t, raw in reader.messages([image.name], partial=True):
        try:
            msg = reader.decode(topic, raw)
            convert(msg)
        except LaneSadError as exc:  # BagError, ImageConversionError
            bad.append(f"frame {len(bad) + 1} on {image.name} cannot be read: {exc}")
            continue
        return msg, t, bad
    if not bad:
        raise BagError(f"{reader.path}: no messages on {image.name}")
    raise BagError(f"{reader.path}: none of the {len(bad)} frames on {image.name} can be read ({bad[0]})")


def replay(cfg: ReplayConfig, progress: Progress | None = None) -> ReplayResult:
    """Play ``cfg.bag`` into a freshly started node and record its answers into ``cfg.out``.

    Raises:
        BagError: the input bag cannot be read (after recording everything before the
            damage), or the output bag cannot be created.
        ReplayError: the node did not start, never answered the warm-up, or exited.
    """
    if cfg.rate <= 0:
        raise ReplayError(f"--rate must be > 0, got {cfg.rate}")
    if cfg.out.exists():
        raise BagError(f"{cfg.out} exists already; choose another --out")
    started = time.monotonic()
    log = cfg.out.with_name(cfg.out.name + ".node.log")
    with BagReader(cfg.bag) as reader:
        image = choose_image_topic(reader, cfg.image_topic)
        first, first_ns, unreadable = _warmup_frame(reader, image)
        cmd, env = node_command(cfg, image)
        os.environ.update(env)  # this process publishes camera frames too: same transport
        camera = [t for t in reader.topics.values() if t.msgtype in topics.CAMERA_TYPES]
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as log_file:
            proc = start_child(cmd, {**os.environ, **env}, log_file)
        link = _Link(camera)
        try:
            _start_node(link, proc, log, image, first, first_ns, cfg.startup_timeout_s)
            player = _Player(cfg, reader, link, image, proc, log)
            _record(cfg, reader, link, player, progress)
        finally:
            link.close()
            _stop_node(proc)
    wall = time.monotonic() - started
    warnings = _bad_frame_warnings(unreadable, player.undecodable)
    return ReplayResult(cfg.out, log, player.sent, len(link.answered), player.copied, wall, warnings)


def _bad_frame_warnings(unreadable: list[str], undecodable: list[str]) -> list[str]:
    """What the user should hear about frames the node could not have answered."""
    warnings = []
    if unreadable:
        n = len(unreadable)
        warnings.append(f"warmed up on frame {n + 1}; the {n} frame(s) before it cannot be read ({unreadable[0]})")
    if undecodable:
        warnings.append(f"{len(undecodable)} frame(s) are not valid messages and were not sent ({undecodable[0]})")
    return warnings


def _record(cfg: ReplayConfig, reader: BagReader, link: _Link, player: _Player, progress: Progress | None) -> None:
    """Open the output bag, play, and close the bag whatever happens (status in metadata)."""
    writer = BagWriter(cfg.out, "mcap").open()
    status = "failed: unexpected error"
    try:
        for name, msgtype in RECORDED.items():
            writer.add_topic(name, msgtype)
        for t in reader.topics.values():
            if t.name not in link.pubs and t.name not in NOT_COPIED:
                writer.add_topic(t.name, t.msgtype, msgdef=t.msgdef, type_hash=t.type_hash, qos=list(t.qos))
        link.record_into(writer)
        player.play(progress)
        status = "complete"
    except (BagError, ReplayError) as exc:
        status = f"failed: {exc}"
        raise type(exc)(f"{exc}; the {player.sent} frames sent before it are recorded in {cfg.out}") from None
    except KeyboardInterrupt as exc:
        status = f"failed: interrupted ({signal.Signals(getattr(exc, 'signum', signal.SIGINT)).name})"
        raise
    finally:
        link.record_into(None)
        writer.set_custom_data(
            "lane_sad.replay",
            json.dumps(
                {
                    "input": str(cfg.bag),
                    "status": status,
                    "timing": "max-rate" if cfg.max_rate else f"rate {cfg.rate:g}",
                    "checkpoint": str(cfg.checkpoint or ""),
                    "params_file": str(cfg.params_file or ""),
                    "image_topic": player.image.name,
                    "frames_sent": player.sent,
                    "frames_answered": len(link.answered),
                    "frames_not_sent": len(player.undecodable),
                }
            ),
        )
        writer.close()
