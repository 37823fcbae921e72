"""``lane-sad bag-eval``: which frames count, latency, report files, and equality with offline scoring."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from bagutil import lane_sad, lane_sad_here, params_file, real_culane_list, small_checkpoint, synth_culane

from lane_sad_core.infer.bag_report import BagFrame, build_report, markdown_to_html, write_report
from lane_sad_core.infer.evaluate import EvalReport, score_frame
from lane_sad_core.lanes import Lane

SIZE = (590, 1640)
LEFT = Lane(np.array([[500.0, 589.0], [700.0, 400.0], [800.0, 300.0]]), slot=1)
RIGHT = Lane(np.array([[1200.0, 589.0], [1000.0, 400.0], [900.0, 300.0]]), slot=2)
ROWS = [float(y) for y in range(300, 590, 10)]


def _frames() -> list[BagFrame]:
    """A: answered perfectly; B: sent, never answered; C: never sent; D: an answer without labels."""
    ms = 1_000_000
    return [
        BagFrame(
            1,
            gt=[LEFT, RIGHT],
            size=SIZE,
            category="night",
            h_samples=ROWS,
            pred=[LEFT, RIGHT],
            sent_ns=0,
            received_ns=30 * ms,
            processing_ms=20.0,
            inference_ms=15.0,
        ),
        BagFrame(2, gt=[LEFT], size=SIZE, category="curve", sent_ns=100 * ms),
        BagFrame(3, gt=[RIGHT], size=SIZE, category="curve"),
        BagFrame(
            4, pred=[RIGHT], size=SIZE, sent_ns=200 * ms, received_ns=210 * ms, processing_ms=8.0, inference_ms=5.0
        ),
    ]


def test_frames_sent_answered_missing_and_scored() -> None:
    frames = _frames()
    report = build_report(frames)
    assert report.frames == {
        "ground_truth": 3,
        "sent": 3,
        "counted": 3,
        "answered": 2,
        "missing": 1,
        "not_sent": 1,
        "answers_without_gt": 1,
    }
    a, b = frames[0], frames[1]
    answered, with_missing = EvalReport(), EvalReport()
    score_frame(answered, "night", a.pred, a.gt, SIZE, ROWS)
    score_frame(with_missing, "night", a.pred, a.gt, SIZE, ROWS)
    score_frame(with_missing, "curve", [], b.gt, SIZE)
    assert report.scores == answered.as_dict()
    assert report.scores_with_missing == with_missing.as_dict()
    total = report.scores_with_missing["total"]
    assert (report.scores["total"]["tp"], total["tp"], total["fn"], total["frames"]) == (2, 2, 1, 2)
    assert report.scores["total"]["tusimple_accuracy"] == 1.0  # identical lanes at the label rows


def test_without_replay_timing_frames_with_ground_truth_count() -> None:
    frames = [BagFrame(f.stamp_ns, f.gt, f.size, f.category, f.h_samples, pred=f.pred) for f in _frames()]
    report = build_report(frames)
    assert report.frames == {
        "ground_truth": 3,
        "sent": None,
        "counted": 3,
        "answered": 1,
        "missing": 2,
        "not_sent": 0,
        "answers_without_gt": 1,
    }


def test_latency_statistics() -> None:
    ms = 1_000_000
    frames = [
        BagFrame(k, sent_ns=0, received_ns=v * ms, processing_ms=v / 2, inference_ms=v / 4)
        for k, v in enumerate([40, 10, 30, 20])
    ]
    lat = build_report(frames).latency_ms
    # 10, 20, 30, 40: median 25; p95 interpolates 95 % of the way from the 1st to the 4th
    assert lat["send_to_receive"] == {"count": 4, "median": 25.0, "p95": 38.5, "mean": 25.0, "max": 40.0}
    assert lat["processing"]["median"] == 12.5 and lat["inference"]["max"] == 10.0


def test_report_files(tmp_path: Path) -> None:
    report = build_report(_frames())
    paths = write_report(report, tmp_path / "r", "replay of test")
    for key in ("latency_plot", "f1_plot"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["markdown"].read_text()
    assert "| 3 | 3 | 3 | 2 | 1 | 1 | 1 |" in md and "| night | 1 | 1.0000 |" in md
    assert "![latency histogram](latency.png)" in md
    page = paths["html"].read_text()
    assert "<h1>replay of test</h1>" in page and '<img src="latency.png" alt="latency histogram">' in page
    assert "<td>night</td><td>1</td><td>1.0000</td>" in page and "|" not in page.split("<body>")[1]
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report.as_dict()))


def test_markdown_to_html_escapes_and_builds_tables() -> None:
    page = markdown_to_html("# a < b\n\n| x | y |\n|---|--:|\n| 1 | <2> |\n\ntext & more\n", "t")
    assert "<h1>a &lt; b</h1>" in page and "<p>text &amp; more</p>" in page
    assert "<table><tr><th>x</th><th>y</th></tr><tr><td>1</td><td>&lt;2&gt;</td></tr></table>" in page


# --- end to end: a replay through the node, scored, against offline scoring ----------------------------
@pytest.fixture(scope="module", params=["synthetic", "real"])
def replayed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A camera bag replayed through the node (max rate), with the data set it came from."""
    tmp = tmp_path_factory.mktemp(f"eval_{request.param}")
    if request.param == "synthetic":
        root, list_file = synth_culane(tmp / "data")
        frames: list[str] = []
    else:
        root, list_file = real_culane_list(request.getfixturevalue("real_data"), tmp)
        frames = ["--max-frames", "5"]
    bag, out = tmp / "camera", tmp / "run"
    assert (
        lane_sad_here("bag", "from-dataset", "--format", "culane", root, "--list", list_file, "--out", bag, *frames)
        == 0
    )
    ckpt = small_checkpoint(tmp / "small.pt")
    result = lane_sad(
        "replay", bag, "--max-rate", "--checkpoint", ckpt, "--params", params_file(tmp / "p.yaml"), "--out", out
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {"root": root, "list": str(list_file), "bag": bag, "out": out, "ckpt": ckpt, "tmp": tmp}


def _offline(replayed: dict) -> dict:
    """The same frames through lane_sad_core's detector in this process, scored with score_frame."""
    from lane_sad_core.data.datasets import CULaneDataset
    from lane_sad_core.infer.detector import LaneDetector
    from lane_sad_core.infer.postprocess import PostprocessConfig
    from lane_sad_ros.bag.replay_frames import frame_infos

    dataset = CULaneDataset(replayed["root"], replayed["list"])
    index = {str(dataset.image_path(i).relative_to(replayed["root"])): i for i in range(len(dataset))}
    detector = LaneDetector(replayed["ckpt"], "cpu", PostprocessConfig(exist_threshold=0.0, prob_threshold=0.0))
    report = EvalReport()
    for info in frame_infos(replayed["bag"]).values():
        i = index[info.image]
        image = cv2.imread(str(dataset.image_path(i)))
        score_frame(report, dataset.category(i), detector.detect(image).lanes, dataset.lanes(i), image.shape[:2])
    return report.as_dict()


@pytest.mark.ros
@pytest.mark.slow
def test_report_equals_offline_scoring(replayed: dict) -> None:
    folder = replayed["tmp"] / "report"
    assert lane_sad_here("bag-eval", replayed["out"], "--report", folder) == 0
    from lane_sad_ros.bag.replay_frames import frame_infos

    got = json.loads((folder / "report.json").read_text())
    n = len(frame_infos(replayed["bag"]))
    assert got["frames"] == {
        "ground_truth": n,
        "sent": n,
        "counted": n,
        "answered": n,
        "missing": 0,
        "not_sent": 0,
        "answers_without_gt": 0,
    }
    assert got["scores"] == json.loads(json.dumps(_offline(replayed)))
    assert got["scores"]["total"]["fp"] > 0  # thresholds 0: the untrained model does answer with lanes
    lat = got["latency_ms"]
    assert lat["send_to_receive"]["count"] == lat["processing"]["count"] == n
    # the node's own interval lies inside the replay's send -> receive one
    assert lat["send_to_receive"]["median"] >= lat["processing"]["median"] >= lat["inference"]["median"] > 0
    for name in ("report.md", "report.html", "latency.png", "f1_per_category.png"):
        assert (folder / name).stat().st_size > 0


@pytest.mark.ros
@pytest.mark.slow
def test_ground_truth_from_the_camera_bag_or_the_labels_scores_the_same(replayed: dict) -> None:
    runs = {
        "own": (),
        "bag": ("--gt", replayed["bag"]),
        "labels": ("--gt", replayed["root"], "--format", "culane", "--list", replayed["list"]),
    }
    reports = {}
    for name, args in runs.items():
        folder = replayed["tmp"] / f"report_{name}"
        assert lane_sad_here("bag-eval", replayed["out"], *args, "--report", folder) == 0
        reports[name] = json.loads((folder / "report.json").read_text())
    assert reports["own"]["scores"] == reports["bag"]["scores"] == reports["labels"]["scores"]
    assert reports["own"]["frames"] == reports["bag"]["frames"] == reports["labels"]["frames"]


def test_bag_without_answers_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lane_sad_ros.bag import BagWriter

    bag = tmp_path / "no_lanes"
    with BagWriter(bag) as writer:
        writer.add_topic("/lanes_gt", "lane_sad/msg/LaneArray")
    assert lane_sad_here("bag-eval", bag, "--report", tmp_path / "r") == 2
    assert "no /lanes topic" in capsys.readouterr().err
    assert lane_sad_here("bag-eval", bag, "--gt", tmp_path) == 2
    assert f"--gt {tmp_path} is not a bag; give --format" in capsys.readouterr().err
