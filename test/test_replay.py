"""``lane-sad replay``: a real node process fed over real DDS from real bag files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from bagutil import cut, lane_sad, lane_sad_here, params_file, read_bag, small_checkpoint, synth_culane

from lane_sad_ros.bag import BagReader
from lane_sad_ros.bag import topics as T
from lane_sad_ros.bag.convert import lanes_from_message, stamp_ns

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # each test starts the node (~5-15 s)

FRAMES = 8
RECORDED = {T.LANES, T.DIAGNOSTICS, T.SENT, T.RECEIVED, T.GT, T.GT_INFO}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The synthetic frames as 10 Hz bags (both storages), a small checkpoint, thresholds 0."""
    tmp = tmp_path_factory.mktemp("replay")
    root, list_file = synth_culane(tmp / "synth")
    paths = {"root": root, "ckpt": small_checkpoint(tmp / "small.pt"), "params": params_file(tmp / "params.yaml")}
    for storage in ("mcap", "sqlite3"):
        paths[storage] = tmp / f"camera_{storage}"
        assert (
            lane_sad_here(
                "bag",
                "from-dataset",
                "--format",
                "culane",
                root,
                "--list",
                list_file,
                "--out",
                paths[storage],
                "--storage",
                storage,
            )
            == 0
        )
    return paths


def _replay(setup: dict[str, Path], bag: Path, out: Path, *timing: str):
    return lane_sad("replay", bag, *timing, "--checkpoint", setup["ckpt"], "--params", setup["params"], "--out", out)


def _status(bag: Path) -> dict:
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return json.loads(meta["custom_data"]["lane_sad.replay"])


def test_max_rate_answers_every_frame_with_the_offline_lanes(setup: dict[str, Path], tmp_path: Path) -> None:
    from lane_sad_core.infer.detector import LaneDetector
    from lane_sad_core.infer.postprocess import PostprocessConfig

    out = tmp_path / "run"
    result = _replay(setup, setup["mcap"], out, "--max-rate")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"replayed {FRAMES} frames, {FRAMES} answered" in result.stdout
    topics, msgs = read_bag(out)
    assert set(topics) == RECORDED  # camera frames are published, not copied
    assert _status(out)["status"] == "complete"
    gt_stamps = [stamp_ns(m.header.stamp) for _, m in msgs[T.GT]]
    answers = {stamp_ns(m.header.stamp): (t, m) for t, m in msgs[T.LANES]}
    assert sorted(answers) == gt_stamps and len(gt_stamps) == FRAMES
    sent = {stamp_ns(m.header.stamp): stamp_ns(m.time_ref) for _, m in msgs[T.SENT]}
    received = {stamp_ns(m.header.stamp): stamp_ns(m.time_ref) for _, m in msgs[T.RECEIVED]}
    assert set(sent) == set(received) == set(gt_stamps)
    assert all(received[s] > sent[s] for s in sent)
    assert all(t >= s for s, (t, _) in answers.items())  # logged at the simulated time of arrival

    with BagReader(setup["mcap"]) as original, BagReader(out) as replayed:

        def raw(reader: BagReader) -> list[bytes]:
            return [r for _, _, r in reader.messages([T.GT, T.GT_INFO])]

        assert raw(original) == raw(replayed)  # ground truth copied byte for byte

    # The node runs lane_sad_core's detector on the recorded bytes: offline, the same
    # checkpoint and thresholds on the same images give the same lanes.
    detector = LaneDetector(setup["ckpt"], "cpu", PostprocessConfig(exist_threshold=0.0, prob_threshold=0.0))
    for _, info in msgs[T.GT_INFO]:
        frame = json.loads(info.data)
        _, answer = answers[frame["stamp_ns"]]
        assert answer.model_name == "enet_sad (small.pt)" and answer.header.frame_id == "camera"
        offline = detector.detect(cv2.imread(str(setup["root"] / frame["image"]))).lanes
        online = lanes_from_message(answer)
        assert len(online) == len(offline) == 4
        for a, b in zip(online, offline):
            assert a.slot == b.slot
            assert np.array_equal(a.points, b.points.astype(np.float32).astype(np.float64))


def test_cut_bag_stops_with_one_line_error_and_keeps_what_was_recorded(setup: dict[str, Path], tmp_path: Path) -> None:
    damaged = tmp_path / "cut"
    shutil.copytree(setup["mcap"], damaged)
    cut(damaged / f"{setup['mcap'].name}.mcap", 0.6)
    with BagReader(damaged) as reader:
        readable = reader.topics[T.CAMERA].count
    assert 0 < readable < FRAMES
    out = tmp_path / "run"
    result = _replay(setup, damaged, out, "--max-rate")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lane-sad replay: error: ") and "cut short" in last
    assert f"the {readable} frames sent before it are recorded in {out}" in last
    topics, _msgs = read_bag(out)  # closed properly: rosbags' indexed reader opens it
    assert topics[T.SENT][1] == topics[T.LANES][1] == topics[T.GT][1] == readable
    assert _status(out)["status"].startswith("failed: ") and _status(out)["frames_answered"] == readable


def test_replay_keeps_the_bag_timing(setup: dict[str, Path], tmp_path: Path) -> None:
    """sqlite3 input at rate 2: 10 Hz frames go out every 50 ms of wall time."""
    out = tmp_path / "run"
    result = _replay(setup, setup["sqlite3"], out, "--rate", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    _, msgs = read_bag(out)
    sent = sorted(stamp_ns(m.time_ref) for _, m in msgs[T.SENT])
    assert len(sent) == FRAMES
    span_ms = (sent[-1] - sent[0]) / 1e6
    assert 0.95 * (FRAMES - 1) * 50 <= span_ms <= 3 * (FRAMES - 1) * 50, span_ms
    assert [t for t, _ in msgs[T.SENT]] == [stamp_ns(m.header.stamp) for _, m in msgs[T.SENT]]
    newest = max(stamp_ns(m.header.stamp) for _, m in msgs[T.SENT])
    assert newest in {stamp_ns(m.header.stamp) for _, m in msgs[T.LANES]}  # the node never skips the newest


def test_what_cannot_be_played_is_refused(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from lane_sad_ros.bag import BagWriter

    no_camera = tmp_path / "gt_only"
    with BagWriter(no_camera) as writer:
        writer.add_topic(T.GT_INFO, "std_msgs/msg/String")
    cases = {
        "no image topic (sensor_msgs/Image or CompressedImage) to play": (no_camera,),
        "no image topic '/nope' (image topics: /camera/image_raw)": (setup["mcap"], "--image-topic", "/nope"),
        "exists already": (setup["mcap"], "--out", setup["sqlite3"]),
    }
    for reason, args in cases.items():
        assert lane_sad_here("replay", *args) == 2
        err = capsys.readouterr().err
        assert reason in err and len(err.strip().splitlines()) == 1, err


def test_node_that_cannot_start_is_reported(setup: dict[str, Path], tmp_path: Path) -> None:
    from lane_sad_ros.bag import ReplayError
    from lane_sad_ros.replay import ReplayConfig, replay

    missing = tmp_path / "missing.pt"
    out = tmp_path / "run"
    with pytest.raises(ReplayError, match=r"node did not come up: the node exited with code 2; .*cannot start"):
        replay(
            ReplayConfig(
                bag=setup["mcap"], out=out, checkpoint=missing, params_file=setup["params"], startup_timeout_s=60
            )
        )
    assert not out.exists()  # nothing recorded before the node answered its warm-up
    assert str(missing) in out.with_name("run.node.log").read_text()
