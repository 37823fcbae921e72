"""The fault table of the bag tools, replay and the node (docs/reliability.md), exact lines included.

Real processes throughout: ``lane-sad replay`` killed with SIGTERM and SIGKILL while it
records, the node it started checked with psutil, bags damaged on disk, a sqlite3 writer
killed mid-recording, and the node fed bad CameraInfo and oversized compressed frames over
real DDS.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
import yaml
from bagutil import cut, lane_sad, lane_sad_here, params_file, small_checkpoint, synth_culane
from faultutil import flip_tensor_bytes, one_error
from rosutil import Spinner, running, wait_until
from test_node import Camera, node_command

from lane_sad_ros.bag import BagReader, BagWriter
from lane_sad_ros.bag import topics as T

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAMES = 8


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """8 synthetic frames as a 10 Hz MCAP camera bag, a small checkpoint, thresholds 0."""
    tmp = tmp_path_factory.mktemp("faults")
    root, list_file = synth_culane(tmp / "synth")
    bag = tmp / "camera"
    assert lane_sad_here("bag", "from-dataset", "--format", "culane", root, "--list", list_file, "--out", bag) == 0
    return {
        "root": root,
        "list": root / list_file,
        "bag": bag,
        "ckpt": small_checkpoint(tmp / "small.pt"),
        "params": params_file(tmp / "params.yaml"),
    }


def replay_command(setup: dict[str, Path], bag: Path, out: Path, *timing: str) -> list[str]:
    return [
        sys.executable, "-m", "lane_sad_core", "replay", str(bag), *timing,
        "--checkpoint", str(setup["ckpt"]), "--params", str(setup["params"]), "--out", str(out),
    ]  # fmt: skip


def status(bag: Path) -> dict:
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return json.loads(meta["custom_data"]["lane_sad.replay"])


def kill_while_recording(setup: dict[str, Path], out: Path, sig: int) -> tuple[subprocess.CompletedProcess, int]:
    """Replay slowly, send ``sig`` once a second of answers is on disk; the result and the node's pid."""
    proc = subprocess.Popen(
        replay_command(setup, setup["bag"], out, "--rate", "0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    mcap = out / f"{out.name}.mcap"
    assert wait_until(lambda: proc.poll() is not None or (mcap.is_file() and mcap.stat().st_size > 2000), 180, 0.1)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    node = next(c for c in psutil.Process(proc.pid).children() if "lane_sad_node" in " ".join(c.cmdline()))
    time.sleep(1.5)  # more answers, partly in a chunk not yet written
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), node.pid


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def assert_ends(pid: int, what: str) -> None:
    """The process ends within 10 s; if not, it is killed (no stray node after the test) and the test fails."""
    if not wait_until(lambda: gone(pid), 10):
        psutil.Process(pid).kill()
        pytest.fail(what)


def counts(bag: Path) -> tuple[dict[str, int], str | None]:
    """Messages readable per topic (up to any damage), and the damage."""
    with BagReader(bag) as reader:
        read: dict[str, int] = {}
        for topic, _, _ in reader.messages(partial=True):
            read[topic.name] = read.get(topic.name, 0) + 1
        return read, reader.damage


# --- replay killed -------------------------------------------------------------------------
def test_sigterm_closes_the_replay_bag_and_stops_the_node(setup: dict[str, Path], tmp_path: Path) -> None:
    """Was: a 0-byte output bag, and the node still running."""
    out = tmp_path / "run"
    result, node = kill_while_recording(setup, out, signal.SIGTERM)
    assert result.returncode == 128 + signal.SIGTERM
    assert result.stderr.strip().splitlines()[-1] == "lane-sad replay: interrupted (SIGTERM)"
    assert_ends(node, "the node outlived the replay")
    read, damage = counts(out)
    assert damage is None and read[T.LANES] > 0 and read[T.SENT] >= read[T.LANES]  # closed: indexed and whole
    assert status(out)["status"] == "failed: interrupted (SIGTERM)"
    assert status(out)["frames_answered"] == read[T.LANES]
    # A copy cut at 60 % keeps the chunks before the cut (was: 0 readable messages).
    copy = tmp_path / "cut"
    copy.mkdir()
    shutil.copy(out / "run.mcap", copy / "cut.mcap")
    cut(copy / "cut.mcap", 0.6)
    partial, damage = counts(copy)
    assert damage and "cut short" in damage
    assert 0 < partial.get(T.LANES, 0) <= read[T.LANES]


def test_sigkill_keeps_what_was_recorded_and_the_node_dies_with_it(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    result, node = kill_while_recording(setup, out, signal.SIGKILL)
    assert result.returncode == -signal.SIGKILL
    assert_ends(node, "the node was orphaned")
    assert not (out / "metadata.yaml").exists()  # nothing was closed ...
    read, damage = counts(out)  # ... and yet every chunk written before the kill reads back
    assert damage == (
        f"{out / 'run.mcap'}: cannot be opened (File end magic is invalid): not closed by its writer (killed?) "
        "or cut short; every record in it is complete"
    )
    assert read[T.LANES] > 0
    # bag-eval scores what was read and says the bag is damaged, with how much it read
    scored = lane_sad("bag-eval", out, "--report", tmp_path / "report")
    assert scored.returncode == 0, scored.stderr
    answers = read[T.LANES] + read[T.SENT] + read.get(T.RECEIVED, 0)
    warning = (
        f"lane-sad bag-eval: warning: {out} is damaged; read {answers} messages of /lanes, /replay/sent, "
        f"/replay/received before it ({damage})"
    )
    assert warning in scored.stderr.splitlines()


# --- replay of damaged or odd input ----------------------------------------------------------
def test_replay_of_a_bag_cut_to_200_bytes_says_it_is_damaged(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Was: "no image topic"."""
    bag = tmp_path / "tiny"
    bag.mkdir()
    (bag / "tiny.mcap").write_bytes((setup["bag"] / "camera.mcap").read_bytes()[:200])
    assert lane_sad_here("replay", bag) == 2
    line = one_error(capsys)
    assert re.fullmatch(
        rf"lane-sad replay: error: {bag}: damaged before any image topic could be read \({bag}/tiny\.mcap: file ends "
        r"inside the record at byte \d+ of 200 \(cut short: copy interrupted or recorder killed\)\)",
        line,
    ), line
    assert lane_sad_here("bag-eval", bag) == 2
    assert one_error(capsys).startswith(
        f"lane-sad bag-eval: error: {bag}: damaged before any /lanes_gt message (the ground truth) could be read ("
    )


def bag_with_bad_frames(setup: dict[str, Path], out: Path) -> None:
    """The camera bag with frame 1 in an encoding nobody reads and frame 3 not a valid message."""
    from lane_sad_ros.bag import typestore

    store = typestore()
    with BagReader(setup["bag"]) as reader, BagWriter(out) as writer:
        for t in reader.topics.values():
            writer.add_topic(t.name, t.msgtype)
        frame = 0
        for topic, stamp, raw in reader.messages():
            if topic.name == T.CAMERA:
                frame += 1
                if frame == 1:
                    msg = reader.decode(topic, raw)
                    raw = store.serialize_cdr(dataclasses.replace(msg, encoding="bogus"), topic.msgtype)
                elif frame == 3:
                    raw = b"\x00\x01\x00\x00" + b"\xff" * 12
            writer.write_raw(topic.name, stamp, raw)


def test_replay_warms_up_on_the_first_readable_frame(setup: dict[str, Path], tmp_path: Path) -> None:
    """Was: one undecodable first frame (the warm-up) aborted the whole replay."""
    bag = tmp_path / "bad_frames"
    bag_with_bad_frames(setup, bag)
    out = tmp_path / "run"
    command = replay_command(setup, bag, out, "--max-rate", "--timeout", "2")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.replace("\r", "\n").splitlines()
    assert (
        "lane-sad replay: warning: warmed up on frame 2; the 1 frame(s) before it cannot be read (frame 1 on "
        "/camera/image_raw cannot be read: unsupported encoding 'bogus' (supported: bgr8, rgb8, bgra8, rgba8, mono8))"
    ) in lines
    bad_cdr = [line for line in lines if line.startswith("lane-sad replay: warning: 1 frame(s) are not valid messages")]
    assert (
        len(bad_cdr) == 1 and f"{bag}: cannot decode a sensor_msgs/msg/Image message on /camera/image_raw" in bad_cdr[0]
    )
    assert f"replayed {FRAMES - 1} frames, {FRAMES - 2} answered" in result.stdout  # bogus sent, not answered
    assert status(out)["frames_not_sent"] == 1


# --- bags ------------------------------------------------------------------------------------
def test_bag_eval_names_what_is_wrong(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = setup["bag"]
    assert lane_sad_here("bag-eval", tmp_path / "nope") == 2
    assert one_error(capsys) == f"lane-sad bag-eval: error: BAG {tmp_path / 'nope'}: not found"  # was: "--gt nope ..."
    assert lane_sad_here("bag-eval", bag, "--lanes-topic", T.GT_INFO, "--report", tmp_path / "r") == 2
    assert one_error(capsys) == (
        f"lane-sad bag-eval: error: {bag}: /lanes_gt/info holds std_msgs/msg/String, not lane_sad/msg/LaneArray "
        "(the node's answers)"
    )
    wrong_gt = tmp_path / "wrong_gt"
    with BagWriter(wrong_gt) as writer:
        writer.add_topic(T.GT, "std_msgs/msg/String")
    assert lane_sad_here("bag-eval", bag, "--gt", wrong_gt, "--lanes-topic", T.GT) == 2
    assert one_error(capsys) == (
        f"lane-sad bag-eval: error: {wrong_gt}: /lanes_gt holds std_msgs/msg/String, not lane_sad/msg/LaneArray "
        "(the ground truth)"
    )
    report = tmp_path / "report.md"
    report.write_text("an earlier report\n")
    assert lane_sad_here("bag-eval", bag, "--report", report) == 2
    assert one_error(capsys) == f"lane-sad bag-eval: error: --report {report} is a file; give a folder for the report"


def test_bag_from_an_empty_list_is_refused(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Was: a 0-frame bag, exit 0."""
    empty = setup["root"] / "list" / "empty.txt"
    empty.write_text("")
    out = tmp_path / "bag"
    assert (
        lane_sad_here(
            "bag", "from-dataset", "--format", "culane", setup["root"], "--list", "list/empty.txt", "--out", out
        )
        == 2
    )
    assert one_error(capsys) == f"lane-sad bag: error: {setup['root']}: list/empty.txt names no frames; no bag written"
    assert not out.exists()


def test_overwritten_bytes_in_an_mcap_are_found(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Was: no damage reported (rosbags writes chunks without CRCs and bag info read no record)."""
    bag = tmp_path / "camera"
    shutil.copytree(setup["bag"], bag)
    data = bytearray((bag / "camera.mcap").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 5000] = bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8))
    (bag / "camera.mcap").write_bytes(bytes(data))
    assert lane_sad_here("bag", "info", bag) == 1
    out = capsys.readouterr().out.splitlines()
    read = next(line for line in out if line.startswith("read:"))
    n = int(read.split()[1])
    assert read == f"read:     {n} of {3 * FRAMES} messages" and n < 3 * FRAMES
    assert out[-1] == f"damaged:  {bag}: damaged, read failed after {n} messages: Chunk checksum mismatch."


SQLITE_WRITER = """
import os, sys, time
from lane_sad_ros.bag import BagWriter
from lane_sad_ros.bag.convert import string_message
writer = BagWriter(sys.argv[1], "sqlite3").open()
writer.add_topic("/text", "std_msgs/msg/String")
for i in range(int(sys.argv[2])):
    writer.write("/text", i + 1, string_message(str(i)))
time.sleep(1.1)  # the next write commits
writer.write("/text", 10**9, string_message("last"))
print("written", flush=True)
time.sleep(60)
"""


def test_a_killed_sqlite3_writer_leaves_its_commits(tmp_path: Path) -> None:
    bag = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", SQLITE_WRITER, str(bag), "50"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait()
    assert not (bag / "metadata.yaml").exists()
    read, damage = counts(bag)
    assert read == {"/text": 51}
    assert damage == f"{bag / 'killed.db3'}: not closed by its writer (killed?); 51 messages were committed"


# --- the node --------------------------------------------------------------------------------
def test_node_refuses_a_corrupt_checkpoint_with_exit_2(setup: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    flip_tensor_bytes(setup["ckpt"], bad)
    cmd, env = node_command(bad)
    with running(cmd, env) as proc:
        out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 2
    assert f"cannot start: checkpoint is corrupt: {bad} (its tensors differ from the digest" in out


def _image(h: int = 90, w: int = 160):
    from lane_sad_ros.image_conv import bgr_to_image_msg

    return bgr_to_image_msg(np.random.default_rng(h + w).integers(0, 255, (h, w, 3), np.uint8))


def test_node_ignores_impossible_intrinsics_and_names_lost_frames(setup: dict[str, Path], tmp_path: Path) -> None:
    """Was: NaN ground points from an inf K; and only "no image for N s" while a publisher's frames were lost."""
    from sensor_msgs.msg import CameraInfo

    cmd, env = node_command(
        setup["ckpt"], existence_threshold=0.0, point_threshold=0.0, camera_height=1.5,
        image_timeout=1.0, diagnostics_period=0.2,
    )  # fmt: skip
    camera = Camera()
    info_pub = camera.spin.node.create_publisher(CameraInfo, "cam/camera_info", 5)
    try:
        with running(cmd, env) as proc:
            camera.wait_for_node(proc)
            assert wait_until(lambda: info_pub.get_subscription_count() > 0, 20)
            for k, problem in (
                ([300.0, 0.0, 80.0, 0.0, float("inf"), 45.0, 0.0, 0.0, 1.0], "K has non-finite entries"),
                (
                    [1e300, 0.0, 80.0, 0.0, 1e300, 45.0, 0.0, 0.0, 1.0],
                    "focal lengths fx=1e+300, fy=1e+300 outside (0, 1e+06] px",
                ),
            ):
                info_pub.publish(CameraInfo(width=160, height=90, k=k))
                wanted = f"camera_info ignored: {problem}"
                assert wait_until(lambda w=wanted: camera.status_value("last_problem") == w, 10), wanted
                key = len(camera.lanes) + 1
                camera.send(_image(), key)
                assert wait_until(lambda k=key: k in camera.lanes, 20)
                answer = camera.lanes[key]
                assert answer.lanes and answer.ground_frame_id == ""  # no ground points rather than NaN ones
                assert all(len(lane.ground_points) == 0 for lane in answer.lanes)
            # the camera's publisher stays, its frames stop: the message names the likely causes and the page
            lost = "although the image topic has 1 publisher(s): if they send, frames are lost in transport"
            assert wait_until(lambda: lost in (camera.last_status().message if camera.diagnostics else ""), 15)
            message = camera.last_status().message
            assert message.startswith("no image for ") and message.endswith("; see docs/transport.md")
            assert camera.last_status().level == b"\x01"
            time.sleep(1.0)  # five more diagnostics periods of the same spell
        log = proc.stdout.read() if proc.stdout else ""
        # logged once per spell (the start-up before the first frame may be one), not every period
        assert 1 <= log.count("frames are lost in transport") <= 2
    finally:
        camera.close()


def test_compressed_frames_obey_the_size_limit(setup: dict[str, Path]) -> None:
    """Was: a compressed frame skipped the 16,384 px limit that raw frames have."""
    from diagnostic_msgs.msg import DiagnosticArray
    from lane_sad.msg import LaneArray
    from sensor_msgs.msg import CompressedImage

    cmd, env = node_command(setup["ckpt"], compressed_input=True, diagnostics_period=0.2, image_timeout=60.0)
    spin = Spinner("compressed_faults")
    got: dict[int, LaneArray] = {}
    diagnostics: list = []
    try:
        spin.node.create_subscription(LaneArray, "lanes", lambda m: got.setdefault(m.header.stamp.nanosec, m), 10)
        spin.node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 50)
        pub = spin.node.create_publisher(CompressedImage, "cam/image/compressed", 5)
        wide = cv2.imencode(".png", np.zeros((4, 16400), np.uint8))[1].tobytes()  # small bytes, too wide a frame
        good = cv2.imencode(".jpg", np.random.default_rng(3).integers(0, 255, (90, 160, 3), np.uint8))[1].tobytes()

        def values() -> dict[str, str]:
            return {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}

        with running(cmd, env) as proc:
            assert wait_until(lambda: pub.get_subscription_count() > 0, 60), "node never subscribed"
            for key in range(1, 60):  # until the data path is up
                msg = CompressedImage(format="jpeg", data=good)
                msg.header.stamp.nanosec = key
                pub.publish(msg)
                if wait_until(lambda: bool(got), 0.5):
                    break
            msg = CompressedImage(format="png", data=wide)
            msg.header.stamp.nanosec = 1000
            pub.publish(msg)
            assert wait_until(lambda: values().get("frames_bad_input") == "1", 20)
            assert values()["last_problem"] == "bad input: image too large (16400x4 > 16384)"
            assert 1000 not in got and proc.poll() is None
    finally:
        spin.close()
