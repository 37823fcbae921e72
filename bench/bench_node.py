"""The node end to end: image published -> LaneArray received, against the bare detector.

Starts ``lane_sad_node`` as its own process with the launch file's command (default
parameters, the shipped model unless ``--checkpoint``) and plays 1280x720 bgr8 frames into
it at ``--rate`` (one the model keeps up with). Half a period after each frame, with the
node idle again, this process runs the bare detector (``LaneDetector.detect``, same
checkpoint, same frame) itself, so both see the same frames at the same cadence, under the
same load, with the same environment (this script re-runs itself with the node's glibc
tunables and Fast DDS profile) and the same threads (``--threads``, the node's parameter).
The detector is also timed back to back, the warm case a saturated node would see.

    python bench/bench_node.py --out bench/results      # writes node.md and prints it

One run measures what the camera side can choose, side by side (``--options``): raw bgr8
at 1280x720 (the reference), raw rgb8 (read in its own layout, no conversion), raw bgr8
downscaled to 640x360 by the camera, and ``CompressedImage`` JPEG (the node decodes it).
Each option restarts the node with the matching parameters; a table compares message
size, the camera's own cost (resize, encode, ``publish()``), the node's conversion and
the headline figure. The camera-side costs are also measured without ROS, frame by frame.

The headline figure is issue 5's: per frame, end to end minus the node's own network time
(``LaneArray.inference_ms``) over that network time, i.e. everything the node and the
transport add around the model (conversion, pre- and post-processing, message building, the
DDS transport both ways); target < 10 % (issue 16; it was 20 %). Then node overhead = (node median - detector
median) / detector median, the detector timed at the node's frame rate, for two node
figures: ``processing_ms`` (image arrival in the node to LaneArray publication) and end to
end (adds the DDS transport of the 2.7 MB frame and of the answer).
The transport floor: the same frames through ``bench/relay_node.py``, a node that answers
each frame at once with the node's QoS and transport environment; what the node adds
beyond that floor is the part a faster node could remove (target < 10 %).
The node's stage medians come from its /diagnostics (``<stage>_p50_ms``); their sum over
the node's own stages, plus the transport, is a third figure that does not depend on how
fast the network happened to run in either process (on a loaded machine it can differ).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
DETECTOR_STAGES = ("preprocess", "inference", "postprocess")
NODE_STAGES = ("wait", "convert", *DETECTOR_STAGES, "publish", "visuals")
STAGE_TEXT = {
    "wait": "wait (arrival -> worker starts)",
    "convert": "convert (Image -> array)",
    "publish": "publish (LaneArray built and sent)",
    "visuals": "visuals (overlay, attention, markers; none subscribed)",
}
TARGET = 0.10


def frames_1280x720(n: int) -> list[np.ndarray]:
    """Real 1280x720 road frames when present (cycled), else synthetic ones."""
    paths = sorted(REAL.glob("tusimple/liuruijin17__LSTR/raws/*_images/*.jpg"))
    if paths:
        imgs = [cv2.imread(str(p)) for p in paths]
        return [imgs[i % len(imgs)] for i in range(n)]
    from lane_sad_core.data.sequence import synthetic_frames

    tmp = Path("/tmp/lane_sad_bench_frames")
    return [f.image for f in synthetic_frames(tmp, n, seed=3)]


def run_with_node_environment() -> None:
    """Re-run this script with the node's transport environment unless it is already set.

    glibc reads ``GLIBC_TUNABLES`` only at process start, and the node gets them from the
    launch spec; without this the bare detector would run with another allocator setting.
    """
    from ament_index_python.packages import get_package_share_directory

    from lane_sad_ros.launch_spec import PACKAGE, transport_env

    env = transport_env(Path(get_package_share_directory(PACKAGE)) / "config", dict(os.environ))
    if any(os.environ.get(k) != v for k, v in env.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **env})


class ForeignCpu:
    """CPU the machine spent outside this process and the node, as a share of all cores."""

    def __init__(self, *pids: int) -> None:
        self.pids = (os.getpid(), *pids)
        self.start = self._sample()

    @staticmethod
    def _busy_total() -> tuple[float, float]:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:8]]
        hz = os.sysconf("SC_CLK_TCK")
        return (sum(ticks) - ticks[3] - ticks[4]) / hz, sum(ticks) / hz  # minus idle, iowait

    def _sample(self) -> tuple[float, float, float]:
        import psutil

        ours = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in self.pids)
        return (*self._busy_total(), ours)

    def share(self) -> float:
        busy0, total0, ours0 = self.start
        busy1, total1, ours1 = self._sample()
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / max(total1 - total0, 1e-9)


@dataclass
class Option:
    """One way a camera can send its frames, and the node parameters that receive it."""

    name: str
    encoding: str = "bgr8"  # raw Image encoding, or "jpeg" for a CompressedImage
    size: tuple[int, int] = (1280, 720)  # what the camera sends (it resizes 1280x720 frames to this)
    quality: int = 90  # JPEG quality

    @property
    def compressed(self) -> bool:
        return self.encoding == "jpeg"

    def camera_frame(self, frame: np.ndarray) -> np.ndarray:
        """The BGR frame at the size the camera sends (what the bare detector gets too)."""
        if (frame.shape[1], frame.shape[0]) == self.size:
            return frame
        return cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)

    def message(self, frame: np.ndarray):
        """The camera's message for a BGR frame already at :attr:`size`."""
        from sensor_msgs.msg import CompressedImage

        from lane_sad_ros.image_conv import bgr_to_image_msg

        if self.compressed:
            _, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            return CompressedImage(format="jpeg", data=jpeg.tobytes())
        if self.encoding == "rgb8":
            msg = bgr_to_image_msg(np.ascontiguousarray(frame[..., ::-1]))
            msg.encoding = "rgb8"
            return msg
        return bgr_to_image_msg(frame)


OPTIONS = {
    "bgr8": Option("raw bgr8 1280x720 (reference)"),
    "rgb8": Option("raw rgb8 1280x720 (read in its own layout)", encoding="rgb8"),
    "bgr8-640": Option("raw bgr8 640x360 (camera downscales)", size=(640, 360)),
    "jpeg": Option("CompressedImage JPEG q90 1280x720 (node decodes)", encoding="jpeg"),
}


@dataclass
class Run:
    """What one paired run measured, in ms per frame."""

    detector: list[float] = field(default_factory=list)
    detector_stages: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in DETECTOR_STAGES})
    e2e: list[float] = field(default_factory=list)
    processing: list[float] = field(default_factory=list)
    inference: list[float] = field(default_factory=list)  # the network's share of processing
    node_stages: dict[str, float] = field(default_factory=dict)
    late: int = 0  # frames the node had not answered when the detector's turn came
    foreign_cpu: float = 0.0
    camera_publish: list[float] = field(default_factory=list)  # this process's publish() of a frame
    clock_step_ms: float = 0.0  # change of the middleware-vs-system clock offset during the run
    message_bytes: int = 0  # size of one frame's message payload


def time_detection(det, frame: np.ndarray, run: Run) -> None:
    t0 = time.perf_counter()
    d = det.detect(frame)
    run.detector.append(1e3 * (time.perf_counter() - t0))
    for stage in DETECTOR_STAGES:
        run.detector_stages[stage].append(d.timings[stage])


def back_to_back_ms(det, frames: list[np.ndarray]) -> list[float]:
    """The detector with no idle time between frames (caches and threads warm)."""
    out = []
    for f in frames:
        t0 = time.perf_counter()
        det.detect(f)
        out.append(1e3 * (time.perf_counter() - t0))
    return out


class BenchCamera:
    """This process's ROS side: plays frames to the node, collects its answers and diagnostics."""

    def __init__(self, compressed: bool = False) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from lane_sad.msg import LaneArray
        from sensor_msgs.msg import CompressedImage, Image
        from std_msgs.msg import Header

        rclpy.init()
        self.node = rclpy.create_node("bench_camera")
        # stamp ns -> (reception ns, processing_ms, inference_ms)
        self.answers: dict[int, tuple[int, float, float]] = {}
        self.diagnostics: list = []
        self.node.create_subscription(LaneArray, "lanes", self._on_lanes, 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        if compressed:
            self.pub = self.node.create_publisher(CompressedImage, "image/compressed", 1)
        else:
            self.pub = self.node.create_publisher(Image, "image", 1)
        self._clock_pub = self.node.create_publisher(Header, "bench_camera/clock", 10)
        self._clock_stamps: list[int] = []
        self.node.create_subscription(
            Header, "bench_camera/clock", lambda _, info: self._clock_stamps.append(info["source_timestamp"]), 10
        )

    def _on_lanes(self, msg, info) -> None:
        # The middleware's reception time: not delayed while this process runs its detector.
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.answers.setdefault(stamp, (info["received_timestamp"], msg.processing_ms, msg.inference_ms))

    def middleware_offset_ns(self, samples: int = 5) -> int:
        """The middleware's clock minus ``time.time_ns()``, from messages to ourselves.

        Fast DDS need not follow a step of the system clock (one run here saw -4.2 s), so
        reception stamps are compared with send times only through this offset.
        """
        offsets = []
        for _ in range(samples):
            n, before = len(self._clock_stamps), time.time_ns()
            self._clock_pub.publish(type(self._clock_pub.msg_type())())
            self.spin_until(time.perf_counter() + 1.0, lambda n=n: len(self._clock_stamps) > n)
            if len(self._clock_stamps) > n:
                offsets.append(self._clock_stamps[-1] - before)
        if not offsets:
            raise RuntimeError("no message to this process came back within 1 s")
        return int(np.median(offsets))

    def spin_until(self, deadline: float, done=lambda: False) -> None:
        import rclpy

        while not done() and (left := deadline - time.perf_counter()) > 0:
            rclpy.spin_once(self.node, timeout_sec=left)

    def warm_up(self, msg, timeout: float = 60.0) -> None:
        """Send ``msg`` (stamped apart from the timed frames) until the node answers."""
        msg.header.stamp.sec = 1
        deadline = time.perf_counter() + timeout
        while not self.answers and time.perf_counter() < deadline:
            self.pub.publish(msg)
            self.spin_until(time.perf_counter() + 0.5, lambda: bool(self.answers))
        if not self.answers:
            raise RuntimeError(f"the node did not answer within {timeout:.0f} s")
        self.answers.clear()

    def send(self, msg, key: int) -> tuple[int, float]:
        """Publish ``msg`` stamped ``key`` ns: the system time it was sent at, and ms in publish()."""
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(key, 10**9)
        sent = time.time_ns()  # the middleware stamps receptions with the system clock
        self.pub.publish(msg)
        return sent, 1e-6 * (time.time_ns() - sent)

    def node_stages(self) -> dict[str, float]:
        """The node's stage medians from its next /diagnostics message."""
        n = len(self.diagnostics)
        self.spin_until(time.perf_counter() + 3.0, lambda: len(self.diagnostics) > n)
        if not self.diagnostics:
            return {}
        values = {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values}
        return {s: float(values[f"{s}_p50_ms"]) for s in NODE_STAGES if f"{s}_p50_ms" in values}

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown()


def paired_run(det, node_params: dict[str, object], frames: list[np.ndarray], rate: float, option: Option) -> Run:
    """Each period: one frame to the node, then, half a period later, the bare detector on it."""
    from lane_sad_ros.launch_spec import installed_node_command

    cmd, env = installed_node_command({**node_params, "compressed_input": option.compressed})
    return play(cmd, env, frames, rate, option, det)


def relay_run(frames: list[np.ndarray], rate: float, option: Option) -> Run:
    """The same frames at the same rate through ``relay_node.py``, with the node's transport environment:
    its end to end is the transport floor (no detector runs in between)."""
    from lane_sad_ros.launch_spec import installed_node_command

    _, env = installed_node_command({})
    cmd = [sys.executable, str(REPO / "bench" / "relay_node.py"), *(["--compressed"] if option.compressed else [])]
    return play(cmd, env, frames, rate, option, None)


def play(cmd: list[str], env: dict[str, str], frames: list[np.ndarray], rate: float, option: Option, det) -> Run:
    """Start the answering process, play the frames to it and collect its answers; with a
    detector, run it on each frame half a period after sending it."""
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    camera = BenchCamera(option.compressed)
    frames = [option.camera_frame(f) for f in frames]
    msgs = [option.message(f) for f in frames]
    run = Run(message_bytes=len(msgs[0].data))
    try:
        camera.warm_up(msgs[0])
        if det is not None:
            back_to_back_ms(det, frames[:3])
        offset = camera.middleware_offset_ns()
        foreign = ForeignCpu(proc.pid)
        start, sent = time.perf_counter(), {}
        for i, (msg, frame) in enumerate(zip(msgs, frames)):
            camera.spin_until(start + i / rate)
            sent[i], publish_ms = camera.send(msg, i)
            run.camera_publish.append(publish_ms)
            # Half a period later (the node done and idle again, as this process was while
            # the node worked), the bare detector takes its turn on the same frame.
            camera.spin_until(start + (i + 0.5) / rate)
            run.late += i not in camera.answers
            if det is not None:
                time_detection(det, frame, run)
        run.foreign_cpu = foreign.share()
        camera.spin_until(time.perf_counter() + 3.0, lambda: all(i in camera.answers for i in sent))
        offset_after = camera.middleware_offset_ns()
        run.clock_step_ms = 1e-6 * (offset_after - offset)
        answered = [i for i in sent if i in camera.answers]
        run.e2e = [1e-6 * (camera.answers[i][0] - offset - sent[i]) for i in answered]
        run.processing = [camera.answers[i][1] for i in answered]
        run.inference = [camera.answers[i][2] for i in answered]
        run.node_stages = camera.node_stages() if det is not None else {}
    finally:
        camera.close()
        proc.send_signal(2)
        proc.wait(timeout=10)
    return run


def header(run: Run, args: argparse.Namespace, load: tuple[float, float], sent: str) -> str:
    """What ran, and how busy the machine was meanwhile."""
    threads = args.threads or "0 (one per core)"
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; load average {load[0]:.2f} before, "
        f"{load[1]:.2f} after; other processes used **{100 * run.foreign_cpu:.0f} %** of the CPU "
        f"during the paired run. {args.frames} frames ({sent}) at {args.rate:g} Hz; checkpoint: "
        f"{args.checkpoint or 'the shipped default'}; threads: {threads}. Each period: one frame "
        "to the node and, half a period later, the bare detector on the same frame in this "
        "process (same cadence, environment and threads). Written by `bench/bench_node.py`."
    )


def beyond_floor(run: Run, floor: Run) -> list[float]:
    """Per frame: what the node adds around its network beyond the relay's median end to end, in %
    of the network time."""
    floor_ms = float(np.median(floor.e2e))
    return [100 * (e - i - floor_ms) / i for e, i in zip(run.e2e, run.inference)]


def floor_line(run: Run, floor: Run) -> str:
    """The transport floor and what the node adds beyond it."""
    floor_ms, network_ms = float(np.median(floor.e2e)), float(np.median(run.inference))
    beyond = beyond_floor(run, floor)
    verdict = "within" if np.median(beyond) < 100 * TARGET else "over"
    return (
        f"- **The transport floor**: the same frames through a node that answers each one at once and does "
        f"nothing else (`bench/relay_node.py`: same QoS, DDS profile and glibc tunables) take {floor_ms:.1f} ms "
        f"end to end (median, p95 {np.percentile(floor.e2e, 95):.1f}), {100 * floor_ms / network_ms:.1f} % of "
        "the network time. rclpy has neither loaned messages nor intra-process transport, so no Python node "
        f"gets the frame for less. **Beyond that floor the node adds {np.median(beyond):+.1f} %** (p95 "
        f"{np.percentile(beyond, 95):+.1f} %; target < {100 * TARGET:.0f} %: {verdict}): conversion, pre- and "
        "post-processing, the hand-over to its worker thread and the LaneArray."
    )


def verdict(run: Run, warm: list[float], rate: float, floor: Run) -> str:
    """Frames answered and the overheads against the detector at the same rate."""
    det = float(np.median(run.detector))
    proc, e2e = (100 * (float(np.median(v)) - det) / det for v in (run.processing, run.e2e))
    idle = 100 * (det - float(np.median(warm))) / float(np.median(warm))
    target = 100 * TARGET

    def within(x: float) -> str:
        return "within" if x < target else "over"

    issue = [100 * (e - i) / i for e, i in zip(run.e2e, run.inference)]
    return "\n".join(
        [
            f"Frames answered: {len(run.e2e)} of {len(run.detector)} ({run.late} not answered within "
            f"{0.5 / rate * 1e3:.0f} ms: their node time overlapped this process's detector)."
            + (
                f" **The clock moved {run.clock_step_ms:+.1f} ms during the run: end-to-end times are off "
                "by up to that.**"
                if abs(run.clock_step_ms) > 1.0
                else ""
            ),
            "",
            f"- **Everything around the network** (end to end - the node's network time, frame by frame: "
            f"conversion, pre- and post-processing, message building, transport both ways), median "
            f"**{np.median(issue):+.1f} %** of the network time, p95 {np.percentile(issue, 95):+.1f} % "
            f"(target < {target:.0f} %: {within(float(np.median(issue)))}).",
            floor_line(run, floor),
            f"- Node overhead over the detector at the same rate: inside the node **{proc:+.1f} %**, "
            f"end to end **{e2e:+.1f} %** (target < {target:.0f} %: {within(proc)} / {within(e2e)}).",
            *own_work(run, det),
            f"- The idle time between frames alone costs the detector {idle:+.1f} % over back to back.",
        ]
    )


def own_work(run: Run, det_ms: float) -> list[str]:
    """The node's own stages and the transport, summed: immune to how fast its network ran.

    On a loaded machine the scheduler need not treat the two processes alike, so the
    network's time in the node and here can differ by more than the node adds.
    """
    own = [s for s in NODE_STAGES if s not in DETECTOR_STAGES and s in run.node_stages]
    if len(own) < len(NODE_STAGES) - len(DETECTOR_STAGES):
        return []
    own_ms = sum(run.node_stages[s] for s in own)
    transport_ms = float(np.median(run.e2e)) - float(np.median(run.processing))
    camera_ms = float(np.median(run.camera_publish))
    return [
        f"- The node's own stages ({', '.join(own)}) take {own_ms:.2f} ms a frame "
        f"(**{100 * own_ms / det_ms:+.1f} %** of the detector); with the transport both ways "
        f"(end to end - processing, {transport_ms:.1f} ms, of which {camera_ms:.1f} ms is this "
        f"process's own publish() of the frame) **{100 * (own_ms + transport_ms) / det_ms:+.1f} %**.",
    ]


def report(
    run: Run, warm: list[float], args: argparse.Namespace, load: tuple[float, float], sent: str, floor: Run
) -> str:
    """The Markdown result for one camera option (``sent`` names it)."""
    rows = [
        (f"detector alone at {args.rate:g} Hz (pre + network + post, this process)", run.detector),
        ("detector alone back to back (reference: no idle between frames)", warm),
        ("inside the node (arrival to publication, processing_ms)", run.processing),
        ("end to end (published -> LaneArray received by the middleware)", run.e2e),
    ]
    stages = [
        (
            STAGE_TEXT.get(s, s),
            f"{np.median(run.detector_stages[s]):.2f}" if s in run.detector_stages else "-",
            f"{run.node_stages[s]:.2f}" if s in run.node_stages else "n/a",
        )
        for s in NODE_STAGES
    ]
    return "\n".join(
        [
            "# The node vs the bare detector",
            "",
            header(run, args, load, sent),
            "",
            "| measure | median ms | p95 ms |",
            "|---|---:|---:|",
            *(f"| {name} | {np.median(v):.1f} | {np.percentile(v, 95):.1f} |" for name, v in rows),
            "",
            verdict(run, warm, args.rate, floor),
            "",
            "Where the time goes (medians, ms; the node's from its /diagnostics, over all its frames):",
            "",
            "| stage | detector alone | in the node |",
            "|---|---:|---:|",
            *(f"| {name} | {d} | {n} |" for name, d, n in stages),
        ]
    )


def camera_side(option: Option, frames: list[np.ndarray]) -> dict[str, float]:
    """Without ROS, median ms per frame: the camera making its message, the node reading it."""
    from rclpy.serialization import serialize_message

    from lane_sad_ros.image_conv import compressed_msg_to_bgr, image_msg_view

    made, reads, reduced = [], [], []
    for frame in frames:
        t0 = time.perf_counter()
        msg = option.message(option.camera_frame(frame))
        t1 = time.perf_counter()
        compressed_msg_to_bgr(msg) if option.compressed else image_msg_view(msg)
        t2 = time.perf_counter()
        if option.compressed:  # what decoding at half size (libjpeg's scaled IDCT) would cost
            cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_REDUCED_COLOR_2)
        made.append(1e3 * (t1 - t0))
        reads.append(1e3 * (t2 - t1))
        reduced.append(1e3 * (time.perf_counter() - t2))
    return {
        "make": float(np.median(made)),
        "read": float(np.median(reads)),
        "read_half": float(np.median(reduced)) if option.compressed else float("nan"),
        "serialized_mb": len(serialize_message(msg)) / 1e6,
    }


def options_table(runs: dict[str, Run], costs: dict[str, dict[str, float]], floors: dict[str, Run]) -> str:
    """The camera options side by side: sizes, costs on both sides, and the headline figures."""
    rows = [
        "| camera sends | message MB | camera makes it (ms) | camera publish() (ms) | node reads it (ms) | "
        "node preprocess (ms) | transport both ways (ms) | network (ms) | around the network: median / p95 | "
        "transport floor (relay, ms) | beyond the floor: median / p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, run in runs.items():
        cost, stages = costs[key], run.node_stages
        around = [100 * (e - i) / i for e, i in zip(run.e2e, run.inference)]
        transport = float(np.median(run.e2e)) - float(np.median(run.processing))
        beyond = beyond_floor(run, floors[key])
        read = f"{stages.get('convert', float('nan')):.2f}" + (
            f" (half-size decode: {cost['read_half']:.2f})" if OPTIONS[key].compressed else ""
        )
        rows.append(
            f"| {OPTIONS[key].name} | {cost['serialized_mb']:.2f} | {cost['make']:.2f} | "
            f"{np.median(run.camera_publish):.2f} | {read} | {stages.get('preprocess', float('nan')):.2f} | "
            f"{transport:.2f} | {np.median(run.inference):.1f} | **{np.median(around):+.1f} %** / "
            f"{np.percentile(around, 95):+.1f} % | {np.median(floors[key].e2e):.2f} | "
            f"**{np.median(beyond):+.1f} %** / {np.percentile(beyond, 95):+.1f} % |"
        )
    return "\n".join(
        [
            "## What the camera can send, side by side",
            "",
            "Each row: its own node run (the node restarted with the matching `compressed_input`), the same "
            "frames at the same rate. *Message MB*: serialized. *Camera makes it*: resize and/or JPEG encode plus "
            "building the message, measured in this process without ROS. *Node reads it*: the node's `convert` "
            "stage (a view of the buffer for raw frames, a JPEG decode for compressed ones; in brackets what "
            "decoding at half size would take). *Around the network*: end to end minus the node's network time, "
            f"over that network time, frame by frame (target < {100 * TARGET:.0f} %). *Transport floor*: the "
            "same frames through `bench/relay_node.py`, which answers at once; *beyond the floor*: around the "
            "network minus that floor's median.",
            "",
            *rows,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="Hz; below the model's rate")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="the node's threads parameter, used here too (default: the node's default)",
    )
    parser.add_argument(
        "--options",
        nargs="+",
        choices=list(OPTIONS),
        default=list(OPTIONS),
        help="camera options; the first is detailed",
    )
    args = parser.parse_args()
    run_with_node_environment()
    from lane_sad_core.infer.detector import LaneDetector

    load_before = os.getloadavg()[0]
    frames = frames_1280x720(args.frames)
    from lane_sad_ros.params import NodeParams

    if args.threads is None:
        args.threads = NodeParams.threads
    det = LaneDetector(args.checkpoint or None, device="auto", threads=args.threads)  # the node's defaults
    back_to_back_ms(det, frames[:3])
    warm = back_to_back_ms(det, frames)
    node_params = {"threads": args.threads, **({"checkpoint": args.checkpoint} if args.checkpoint else {})}
    runs = {key: paired_run(det, node_params, frames, args.rate, OPTIONS[key]) for key in args.options}
    floors = {key: relay_run(frames, args.rate, OPTIONS[key]) for key in args.options}
    costs = {key: camera_side(OPTIONS[key], frames[:20]) for key in args.options}
    load = (load_before, os.getloadavg()[0])
    first = args.options[0]
    text = "\n".join(
        [
            report(runs[first], warm, args, load, OPTIONS[first].name, floors[first]),
            "",
            options_table(runs, costs, floors),
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "node.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
