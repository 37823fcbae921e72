"""The node's plain-Python parts: frame slot, health rules, parameter validation."""

from __future__ import annotations

import threading
import time

import pytest

from lane_sad_ros.frame_slot import FrameSlot
from lane_sad_ros.health import ERROR, OK, WARN, Health
from lane_sad_ros.params import check_change, validate


def test_slot_keeps_only_the_newest_and_counts_replacements() -> None:
    slot = FrameSlot()
    assert slot.put("a") is False
    assert slot.put("b") is True  # "a" was never taken: skipped
    msg, arrived = slot.take(timeout=0.1)
    assert msg == "b" and arrived <= time.perf_counter()
    assert slot.take(timeout=0.01) is None


def test_slot_close_wakes_a_waiting_worker() -> None:
    slot = FrameSlot()
    woke = []
    t = threading.Thread(target=lambda: woke.append(slot.take(timeout=10)))
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    slot.close()
    t.join(timeout=2)
    assert woke == [None] and time.monotonic() - t0 < 1.0


def test_health_levels() -> None:
    h = Health(window_s=0.2)
    assert h.report(image_timeout_s=10, failure_limit=2).level == OK
    h.on_arrival(False)
    h.on_processed(20.0, {"inference": 10.0})
    h.on_processed(40.0, {"inference": 12.0})
    rep = h.report(10, 2)
    assert rep.level == OK and rep.values["latency_p50_ms"] == "30.00"
    h.on_bad_input("empty image (0x0)")
    assert h.report(10, 2).level == WARN and "empty image" in h.report(10, 2).message
    time.sleep(0.25)
    assert h.report(10, 2).level == OK  # the problem left the window
    h.on_failure("boom")
    h.on_failure("boom")
    assert h.report(10, 2).level == ERROR
    h.on_processed(1.0, {"inference": 1.0})
    assert h.report(10, 2).level == WARN  # recovered, the failure still in the window
    assert h.report(image_timeout_s=0.0, failure_limit=2).message.startswith("no image for")


def test_stage_medians_and_debug_counts_on_diagnostics() -> None:
    h = Health()
    assert h.report(10, 5).values["overlay_frames"] == "0"
    assert not any(k.endswith("_p50_ms") and k != "latency_p50_ms" for k in h.report(10, 5).values)
    for wait, inference in ((0.5, 20.0), (1.5, 30.0), (9.0, 25.0)):
        h.on_processed(wait + inference, {"wait": wait, "inference": inference})
    h.on_debug_output("overlay")
    values = h.report(10, 5).values
    assert (values["wait_p50_ms"], values["inference_p50_ms"]) == ("1.50", "25.00")
    assert values["overlay_frames"] == "1" and values["attention_frames"] == "0"
    keys = list(values)
    assert keys.index("wait_p50_ms") < keys.index("inference_p50_ms")  # in pipeline order


def test_input_rate_from_arrivals() -> None:
    h = Health(window_s=5.0)
    for _ in range(11):
        h.on_arrival(False)
        time.sleep(0.01)
    rate = float(h.report(10, 5).values["input_rate_hz"])
    assert 50 < rate < 110  # 10 intervals of ~10 ms (sleep overshoots)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("existence_threshold", 1.2, "existence_threshold must be in [0, 1]"),
        ("existence_threshold", 0.7, None),
        ("camera_height", -1.0, "camera_height must be >= 0 (metres)"),
        ("device", "cpu", "device cannot change at run time; restart the node with the new value"),
        ("publish_attention", True, None),
        ("use_sim_time", True, None),  # not ours: rclpy handles it
        ("camera_pitch", "auto", None),
        ("camera_pitch", 0, None),  # an integer from the command line
        ("camera_pitch", "up", "camera_pitch must be auto or a number in (-1.5, 1.5) rad"),
        ("camera_pitch", 2.0, "camera_pitch must be auto or a number in (-1.5, 1.5) rad"),
        ("vehicle_half_width", -0.1, "vehicle_half_width must be >= 0 (metres)"),
        ("pitch_min_frames", 0, "pitch_min_frames must be >= 1"),
    ],
)
def test_runtime_changes(name: str, value: object, problem: str | None) -> None:
    assert check_change(name, value) == problem


def test_start_up_validation() -> None:
    assert validate("device", "tpu") == "device must be one of auto, cpu, cuda"
    assert validate("qos_reliability", "reliable") is None
    assert validate("threads", -1) == "threads must be >= 0 (0: one per core)"
    assert validate("threads", 0) is None and validate("threads", 1) is None


def test_transport_env_per_distro_and_tunables() -> None:
    from lane_sad_ros.launch_spec import GLIBC_TUNABLES, transport_env

    here = transport_env("/cfg", {})  # /cfg does not exist: resolve() keeps the path
    assert here == {"FASTDDS_DEFAULT_PROFILES_FILE": "/cfg/fastdds_shm.xml", "GLIBC_TUNABLES": GLIBC_TUNABLES}
    humble = transport_env("/cfg", {"ROS_DISTRO": "humble", "GLIBC_TUNABLES": "glibc.pthread.rseq=0"})
    assert humble["FASTRTPS_DEFAULT_PROFILES_FILE"] == "/cfg/fastdds_shm.xml"
    assert humble["GLIBC_TUNABLES"] == f"glibc.pthread.rseq=0:{GLIBC_TUNABLES}"
    assert transport_env("/c", {"GLIBC_TUNABLES": GLIBC_TUNABLES})["GLIBC_TUNABLES"] == GLIBC_TUNABLES


def test_launch_parameters_from_launch_arguments() -> None:
    from lane_sad_ros.launch_spec import launch_parameters, node_spec

    assert launch_parameters() == {"use_sim_time": False}
    p = launch_parameters(model="/m.pt", device="cuda", use_sim_time="true", debug="true")
    assert p == {
        "use_sim_time": True,
        "checkpoint": "/m.pt",
        "device": "cuda",
        "publish_overlay": True,
        "publish_attention": True,
    }
    spec = node_spec("/p.yaml", "/cfg", image_topic="/front/image_raw", parameters=p)
    args = spec.ros_args()
    assert args[:5] == ["--ros-args", "-r", "__node:=lane_sad", "--params-file", "/p.yaml"]
    assert "image:=/front/image_raw" in args and "camera_info:=/front/camera_info" in args
    assert "use_sim_time:=true" in args and "checkpoint:=/m.pt" in args
