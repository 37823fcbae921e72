"""Cross-process transport of camera-sized images between two rclpy processes.

``python bench/bench_transport.py --out bench/results`` writes ``bench/results/transport.md``
and prints it. Every configuration starts a publisher and a subscriber as separate OS
processes (``transport_peer.py``, real rclpy over real Fast DDS on this host only), waits
until both DDS endpoints have matched, then publishes 1280x720 bgr8 frames at 30 Hz for
5 s; only frames sent after matching are counted. Each frame carries its wall-clock send
time, so latency is publish-to-callback.

Three tables: what each Fast DDS setting actually opened in a lone probe process (a setting
can be silently ignored, see docs/transport.md); delivery, latency and the subscriber's CPU
and page faults per configuration; and what rclpy itself costs for one such message in one
process (serialise, deserialise, field setter, NumPy view).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

BENCH = Path(__file__).resolve().parent
PEER = BENCH / "transport_peer.py"
SHIPPED_PROFILE = BENCH.parent / "config" / "fastdds_shm.xml"

# Experimental Fast DDS profiles, written into the run's temporary directory; the shipped
# profile is measured from config/ as it is.
LARGE_DATA_OPTIONS = "max_msg_size=4MB&sockets_size=4MB&non_blocking=true&tcp_negotiation_timeout=50"
BENCH_PROFILES = {
    "large_data.xml": (
        '<participant profile_name="bench" is_default_profile="true"><rtps>'
        '<builtinTransports max_msg_size="4MB" sockets_size="4MB" non_blocking="true" '
        'tcp_negotiation_timeout="50">LARGE_DATA</builtinTransports></rtps></participant>'
    ),
    "shm_8mb.xml": (
        "<transport_descriptors><transport_descriptor><transport_id>shm8</transport_id>"
        "<type>SHM</type><segment_size>8388608</segment_size></transport_descriptor>"
        "</transport_descriptors>"
        '<participant profile_name="bench" is_default_profile="true"><rtps><userTransports>'
        "<transport_id>shm8</transport_id></userTransports></rtps></participant>"
    ),
}
# Variables that would leak a caller's DDS set-up into a configuration.
DDS_VARIABLES = (
    "FASTDDS_BUILTIN_TRANSPORTS",
    "FASTDDS_DEFAULT_PROFILES_FILE",
    "FASTRTPS_DEFAULT_PROFILES_FILE",
    "RMW_FASTRTPS_USE_QOS_FROM_XML",
    "RMW_IMPLEMENTATION",
    "ROS_AUTOMATIC_DISCOVERY_RANGE",
    "ROS_LOCALHOST_ONLY",
    "ROS_STATIC_PEERS",
)
PROFILE = "SHM 32 MB XML"
SHIPPED = "SHM 32 MB XML + malloc (shipped)"
# glibc keeps freed multi-MB buffers in the heap instead of unmapping them, so the next
# message's buffers are not page-faulted in again (see docs/transport.md).
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"
# A CPU-bound process that ends by itself after argv[1] seconds.
BUSY_LOOP = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass"


def transports(workdir: Path) -> dict[str, dict[str, str]]:
    """Name -> Fast DDS environment of every transport measured; writes the bench profiles."""
    for name, body in BENCH_PROFILES.items():
        (workdir / name).write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<dds xmlns="http://www.eprosima.com">'
            f"<profiles>{body}</profiles></dds>\n"
        )
    return {
        "default": {},
        "LARGE_DATA env": {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"},
        "LARGE_DATA tuned env": {"FASTDDS_BUILTIN_TRANSPORTS": f"LARGE_DATA?{LARGE_DATA_OPTIONS}"},
        "UDPv4 4 MB env": {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4?sockets_size=4MB"},
        "LARGE_DATA tuned XML": {"FASTDDS_DEFAULT_PROFILES_FILE": str(workdir / "large_data.xml")},
        "SHM 8 MB XML": {"FASTDDS_DEFAULT_PROFILES_FILE": str(workdir / "shm_8mb.xml")},
        PROFILE: {"FASTDDS_DEFAULT_PROFILES_FILE": str(SHIPPED_PROFILE)},
        SHIPPED: {
            "FASTDDS_DEFAULT_PROFILES_FILE": str(SHIPPED_PROFILE),
            "GLIBC_TUNABLES": MALLOC_TUNABLES,
        },
    }


@dataclass(frozen=True)
class Case:
    """One measured configuration: transport, subscriber QoS and depth, publisher QoS."""

    transport: str
    sub_qos: str
    sub_depth: int
    pub_qos: str = ""  # empty: same reliability as the subscriber
    pub_transport: str = ""  # empty: same transport as the subscriber
    busy: int = 0  # CPU-bound processes running alongside, like a detector's inference

    @property
    def publisher_qos(self) -> str:
        return self.pub_qos or self.sub_qos

    @property
    def publisher_transport(self) -> str:
        return self.pub_transport or self.transport

    def cells(self) -> str:
        """Table cells: transport, subscriber QoS and depth, publisher QoS, busy processes."""
        transport = self.transport
        if self.pub_transport:
            transport = f"pub {self.pub_transport}, sub {self.transport}"
        qos = f"{_qos_name(self.sub_qos)} | {self.sub_depth} | {_qos_name(self.publisher_qos)}"
        return f"{transport} | {qos} | {self.busy or '-'}"


def _qos_name(kind: str) -> str:
    return "BE" if kind == "best_effort" else "reliable"


def default_cases() -> list[Case]:
    """Transports x {BE, reliable} at depth 5 and 1, under CPU load, and mixed driver/node set-ups.

    Settings the probe shows to be ignored (the env variants) get one best-effort row each.
    """
    both = ("best_effort", "reliable")
    be = "best_effort"
    cases = [Case(t, q, 5) for t in ("default", "LARGE_DATA tuned XML", PROFILE) for q in both]
    ignored = ("LARGE_DATA env", "LARGE_DATA tuned env", "UDPv4 4 MB env")
    cases += [Case(t, be, 5) for t in (*ignored, "SHM 8 MB XML")]
    cases += [Case(t, q, 1) for t in ("default", PROFILE) for q in both]
    cases += [
        Case(PROFILE, be, 1, pub_qos="reliable"),  # the usual camera driver publishes reliably
        Case(PROFILE, be, 1, busy=2),
        Case(SHIPPED, be, 1),
        Case(SHIPPED, be, 1, busy=2),
        Case(SHIPPED, be, 1, pub_transport=PROFILE),  # malloc tunables on the node side only
        Case(PROFILE, be, 1, pub_qos="reliable", pub_transport="default"),  # driver w/o profile
        Case("default", be, 5, pub_transport=PROFILE),  # only the driver has the profile
    ]
    return cases


@dataclass
class Result:
    """What one configuration measured."""

    case: Case
    sent: int = 0
    received: int = 0
    lost_first_second: int = 0
    latency_ms: list[float] = field(default_factory=list)
    callback_ms: list[float] = field(default_factory=list)
    publish_ms: list[float] = field(default_factory=list)
    spin_message_ms: list[float] = field(default_factory=list)
    spin_idle_ms: list[float] = field(default_factory=list)
    sub_cpu_pct: float = 0.0
    faults_per_frame: float = 0.0
    error: str = ""

    @property
    def delivery_pct(self) -> float:
        return 100.0 * self.received / self.sent if self.sent else 0.0


class Peer:
    """A peer process and a thread collecting its ``@@`` protocol lines."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), *args],
            env=env,
            cwd=cwd,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.events: queue.Queue[dict] = queue.Queue()
        self.other_lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("@@ "):
                self.events.put(json.loads(line[3:]))
            else:
                self.other_lines.append(line.rstrip())
        self.events.put({"event": "exit"})

    def expect(self, event: str, timeout: float) -> dict:
        """The next protocol event, which must be ``event``; raises RuntimeError otherwise."""
        try:
            got = self.events.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no '{event}' within {timeout:.0f} s") from None
        if got["event"] != event:
            tail = " | ".join(self.other_lines[-3:])
            raise RuntimeError(f"expected '{event}', got {got} {tail}".strip())
        return got

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def stop(self) -> None:
        """Ask the peer to stop; kill it if it has not exited after 10 s."""
        self.send("stop")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def peer_env(transport_env: dict[str, str], domain_id: int) -> dict[str, str]:
    """This process's environment minus any DDS set-up, plus one transport, on localhost."""
    env = {k: v for k, v in os.environ.items() if k not in DDS_VARIABLES}
    env.update(transport_env)
    env.update(
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_DOMAIN_ID=str(domain_id),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_case(case: Case, envs: dict[str, dict[str, str]], args: argparse.Namespace, workdir: str) -> Result:
    """Run one publisher/subscriber pair and collect its numbers."""
    frames = round(args.rate * args.seconds)
    common = [f"--width={args.width}", f"--height={args.height}", f"--rate={args.rate}"]
    common.append(f"--frames={frames}")
    sub = Peer(
        ["sub", f"--qos={case.sub_qos}", f"--depth={case.sub_depth}", *common],
        peer_env(envs[case.transport], args.domain_id),
        workdir,
    )
    pub = Peer(
        ["pub", f"--qos={case.publisher_qos}", "--depth=5", *common],
        peer_env(envs[case.publisher_transport], args.domain_id),
        workdir,
    )
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(args.seconds + 40)]) for _ in range(case.busy)]
    result = Result(case)
    try:
        sub.expect("matched", 30)
        pub.expect("matched", 30)
        pub.send("go")
        done = pub.expect("done", args.seconds + 30)
        time.sleep(args.drain)
        sub.send("stop")
        got = sub.expect("result", 15)
    except RuntimeError as err:
        result.error = str(err)
        return result
    finally:
        sub.stop()
        pub.stop()
        for proc in busy:
            proc.kill()
            proc.wait()
    seqs = set(got["seqs"])
    result.sent = done["sent"]
    result.received = len(seqs)
    result.lost_first_second = sum(1 for s in range(min(result.sent, round(args.rate))) if s not in seqs)
    result.latency_ms = got["latency_ms"]
    result.callback_ms = got["callback_ms"]
    result.spin_message_ms = got["spin_message_ms"]
    result.spin_idle_ms = got["spin_idle_ms"]
    result.publish_ms = done["publish_ms"]
    result.faults_per_frame = got["minor_faults"] / result.sent
    result.sub_cpu_pct = 100.0 * got["cpu_s"] / (done["seconds"] + args.drain)
    return result


def probe(transport_env: dict[str, str], args: argparse.Namespace, workdir: str) -> str:
    """What a lone participant with this environment opened, as one table cell."""
    peer = Peer(["probe"], peer_env(transport_env, args.domain_id), workdir)
    try:
        inventory = peer.expect("inventory", 30)
    except RuntimeError as err:
        return f"probe failed: {err}"
    finally:
        peer.stop()
    shm = " + ".join(f"{mb:g}" for mb in inventory["shm_segments_mb"]) or "none"
    udp = [s["rcvbuf"] for s in inventory["sockets"] if s["kind"] == "udp"]
    tcp_listening = sum(1 for s in inventory["sockets"] if s["kind"] == "tcp" and s["listening"])
    udp_text = f"{len(udp)} (largest receive buffer {max(udp) / 2**20:.2f} MiB)" if udp else "none"
    return f"{shm} | {udp_text} | {tcp_listening}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(values: list[float], q: float | None = None) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values) if q is None else percentile(values, q):.1f}"


def transport_table(results: list[Result]) -> list[str]:
    lines = [
        "| transport | sub QoS | sub depth | pub QoS | busy procs | sent | received | delivery % "
        "| lost in 1st s | latency median ms | latency p95 ms | callback median ms "
        "| spin CPU ms with frame | spin CPU ms idle | sub CPU % | sub page faults per frame "
        "| publish() median ms |",
        "| --- | --- | ---: | --- | ---: " + "| ---: " * 12 + "|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.case.cells()} | failed: {r.error} ||||||||||||")
            continue
        lines.append(
            f"| {r.case.cells()} | {r.sent} | {r.received} | {r.delivery_pct:.1f} "
            f"| {r.lost_first_second} | {fmt(r.latency_ms)} | {fmt(r.latency_ms, 0.95)} "
            f"| {fmt(r.callback_ms)} "
            f"| {fmt(r.spin_message_ms)} | {fmt(r.spin_idle_ms)} "
            f"| {r.sub_cpu_pct:.0f} | {r.faults_per_frame:.0f} | {fmt(r.publish_ms)} |"
        )
    return lines


def timed_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def rclpy_costs(width: int, height: int, repeats: int) -> list[tuple[str, float]]:
    """What rclpy does with one frame in Python, timed in this process."""
    import array

    import numpy as np
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    raw = np.zeros((height, width, 3), np.uint8).tobytes()
    msg = Image(height=height, width=width, encoding="bgr8", step=width * 3)
    msg.data = array.array("B", raw)
    wire = serialize_message(msg)
    checked = Image(check_fields=True)
    return [
        (
            "serialize_message (the conversion inside publish())",
            timed_ms(lambda: serialize_message(msg), repeats),
        ),
        (
            "deserialize_message (the conversion inside the executor's take)",
            timed_ms(lambda: deserialize_message(wire, Image), repeats),
        ),
        (
            "np.frombuffer(msg.data).reshape (the callback's view)",
            timed_ms(lambda: np.frombuffer(msg.data, np.uint8).reshape(height, width, 3), repeats),
        ),
        (
            "msg.data = bytes, field checks off (Kilted default)",
            timed_ms(lambda: setattr(msg, "data", raw), repeats),
        ),
        (
            "msg.data = bytes, field checks on (ROS_PYTHON_CHECK_FIELDS=1; always on Humble)",
            timed_ms(lambda: setattr(checked, "data", raw), 1),
        ),
        (
            "msg.data = array.array('B', bytes), field checks on",
            timed_ms(lambda: setattr(checked, "data", array.array("B", raw)), repeats),
        ),
    ]


def render(
    results: list[Result],
    probes: dict[str, str],
    envs: dict[str, dict[str, str]],
    costs: list[tuple[str, float]],
    args: argparse.Namespace,
    seconds: float,
) -> str:
    size_mb = args.width * args.height * 3 / 2**20
    load = os.getloadavg()
    out = [
        "# Image transport between two rclpy processes",
        "",
        f"{args.width}x{args.height} bgr8 ({size_mb:.2f} MiB) at {args.rate:g} Hz for "
        f"{args.seconds:g} s per configuration, counted from DDS matching; publisher and "
        "subscriber are separate processes (rclpy, rmw_fastrtps_cpp, Fast DDS, "
        "`ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`). BE = best effort (sensor-data QoS). "
        f"Publisher depth 5. 'lost in 1st s' counts the first {round(args.rate)} frames. "
        "Latency: header stamp (send time) to callback start. Callback: NumPy view of the data. "
        "Spin CPU: CPU time of the subscriber's executor thread per `spin_once`, median over "
        "spins that delivered a frame (wait set, take, deserialise, convert, callback) and over "
        "idle spins (20 ms timeout). sub CPU: subscriber process CPU time over the window; page "
        "faults: its minor page faults over the window / frames sent. "
        "busy procs: CPU-bound processes running alongside (like inference).",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}; load average after the run {load[0]:.2f}; "
        f"whole run {seconds:.0f} s.",
        "",
        "## Transports: what each setting asks for and what Fast DDS opened",
        "",
        "A probe process creates one participant with the setting and lists its own shared-memory "
        "segments, UDP sockets and listening TCP sockets (receive buffers as the kernel reports "
        "them, i.e. twice the requested size).",
        "",
        "| transport | setting | SHM segments MiB | UDP sockets | TCP listeners |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for name, env in envs.items():
        setting = ", ".join(f"`{k}={Path(v).name if k.endswith('FILE') else v}`" for k, v in env.items())
        out.append(f"| {name} | {setting or 'none'} | {probes[name]} |")
    out += [
        "",
        "## Delivery and latency",
        "",
        *transport_table(results),
        "",
        f"## rclpy's own cost per {args.width}x{args.height} bgr8 message (one process, median)",
        "",
        "| operation | ms |",
        "| --- | ---: |",
    ]
    out += [f"| {name} | {ms:.2f} |" for name, ms in costs]
    return "\n".join(out) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="directory for transport.md")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--rate", type=float, default=30.0, help="publish rate, Hz")
    parser.add_argument("--seconds", type=float, default=5.0, help="publishing time per configuration")
    parser.add_argument("--drain", type=float, default=0.5, help="seconds the subscriber keeps listening")
    parser.add_argument("--domain-id", type=int, default=77, help="private ROS_DOMAIN_ID for the peers")
    parser.add_argument("--only", default="", help="run only configurations whose table cells contain this")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cases = [c for c in default_cases() if args.only in c.cells()]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_transport_") as workdir:
        envs = transports(Path(workdir))
        probes = {name: probe(env, args, workdir) for name, env in tqdm(envs.items(), desc="probes")}
        results = [run_case(case, envs, args, workdir) for case in tqdm(cases, desc="configurations")]
    costs = rclpy_costs(args.width, args.height, repeats=20)
    text = render(results, probes, envs, costs, args, time.monotonic() - start)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transport.md").write_text(text)
    print(text)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
