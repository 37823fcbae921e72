"""LaneDetector on a real CULane frame with a freshly built tiny checkpoint."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError
from lane_sad_core.infer import detector as detector_mod
from lane_sad_core.infer.base import resolve_device
from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.infer.postprocess import PostprocessConfig
from lane_sad_core.models import build_model
from lane_sad_core.models.checkpoint import model_payload, save_checkpoint

CULANE = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030819_0755.MP4/00000.jpg"
OFFICIAL_ROWS = 589 - 20 * np.arange(18)


def _checkpoint(path, crop_top: float = 0.0):
    torch.manual_seed(0)
    model = build_model("enet_sad", input_height=64, input_width=160).train()
    with torch.no_grad():
        for _ in range(10):  # settle BatchNorm's running statistics, as training would
            model(torch.randn(2, 3, 64, 160))
        model.exist.fc2.bias.fill_(10.0)  # every slot "exists": decoding always runs
    return save_checkpoint(path, model_payload(model, PreprocessConfig(width=160, height=64, crop_top=crop_top)))


@pytest.fixture(scope="module")
def frame(real_data):
    image = cv2.imread(str(real_data / CULANE))
    assert image is not None and image.shape == (590, 1640, 3)
    return image


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    # prob_threshold 0: every sampled row yields a point, whatever the random weights say,
    # so the geometry (rows, source coordinates) is what is tested.
    return LaneDetector(
        _checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt"),
        device="cpu",
        postprocess=PostprocessConfig(prob_threshold=0.0, num_rows=18, fit="official"),
    )


def test_detect_returns_lanes_in_source_pixels(detector, frame):
    det = detector.detect(frame)
    assert [lane.slot for lane in det.lanes] == [0, 1, 2, 3]
    for lane in det.lanes:
        assert np.array_equal(lane.points[:, 1], OFFICIAL_ROWS)
        assert np.all((lane.points[:, 0] >= 0) & (lane.points[:, 0] < 1640))
        # columns come from a 160-px-wide map: multiples of 1640 / 160 = 10.25 px
        assert np.allclose(np.mod(lane.points[:, 0] / 10.25, 1.0), 0.0)
        assert lane.existence > 0.99
    assert det.prob.shape == (5, 64, 160)
    assert np.allclose(det.prob.sum(axis=0), 1.0, atol=1e-5)
    assert det.exist.shape == (4,) and det.attention is None
    assert set(det.timings) == {"preprocess", "inference", "postprocess"}
    assert all(t >= 0 for t in det.timings.values())


def test_attention_only_when_asked(detector, frame):
    det = detector.detect(frame, with_attention=True)
    assert set(det.attention) == {"E2", "E3", "E4"}
    for heat in det.attention.values():
        assert heat.shape == (64, 160) and heat.min() == pytest.approx(0.0) and heat.max() == pytest.approx(1.0)
    plain = detector.detect(frame)
    assert plain.attention is None
    assert np.allclose(plain.prob, det.prob, atol=1e-6)


def test_crop_keeps_points_below_the_crop_line(tmp_path, frame):
    det = LaneDetector(
        _checkpoint(tmp_path / "crop.pt", crop_top=0.4),
        device="cpu",
        postprocess=PostprocessConfig(prob_threshold=0.0, num_rows=None, fit="official"),
    ).detect(frame)
    top = round(590 * 0.4)
    assert det.lanes and all(lane.points[:, 1].min() >= top for lane in det.lanes)
    assert det.lanes[0].points[-1, 1] == 589 - 20 * ((589 - top) // 20)


def test_batch_matches_single_frames(detector, frame):
    small = cv2.resize(frame, (820, 295))
    batch = detector.detect_batch([frame, small])
    assert len(batch) == 2
    for single, batched in zip((detector.detect(frame), detector.detect(small)), batch):
        assert np.allclose(single.prob, batched.prob, atol=1e-5)
        assert [len(lane) for lane in single.lanes] == [len(lane) for lane in batched.lanes]
    assert batch[1].lanes[0].points[:, 1].max() == 294  # rows of the smaller source


def test_grey_input_is_accepted_and_floats_refused(detector, frame):
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert detector.detect(grey).prob.shape == (5, 64, 160)
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(frame.astype(np.float32))


def test_threads_sets_the_torch_pool_and_zero_keeps_it(tmp_path, frame):
    before = torch.get_num_threads()
    path = _checkpoint(tmp_path / "t.pt")
    try:
        LaneDetector(path, device="cpu", threads=0)
        assert torch.get_num_threads() == before
        det = LaneDetector(path, device="cpu", threads=1)
        assert torch.get_num_threads() == 1
        assert det.detect(frame).prob.shape == (5, 64, 160)
    finally:
        torch.set_num_threads(before)


def test_missing_default_checkpoint_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(detector_mod, "DEFAULT_CHECKPOINT", tmp_path / "enet_sad_default.pt")
    with pytest.raises(CheckpointError, match="default weights .*enet_sad_default.pt do not exist"):
        LaneDetector()


def test_auto_device_prefers_cuda():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"


def test_only_stamped_frames_are_smoothed(tmp_path, frame):
    from lane_sad_core.infer.temporal import TemporalConfig

    detector = LaneDetector(
        _checkpoint(tmp_path / "t.pt"),
        device="cpu",
        postprocess=PostprocessConfig(prob_threshold=0.0, num_rows=18, fit="official"),
        temporal=TemporalConfig(alpha=0.5, gate=1.0),  # no gate: every lane blends
    )
    other = np.ascontiguousarray(frame[:, ::-1])
    raw_a, raw_b = detector.detect(frame).lanes, detector.detect(other).lanes
    detector.detect(frame, stamp=0.0)
    smoothed = detector.detect(other, stamp=0.04).lanes
    for a, b, s in zip(raw_a, raw_b, smoothed):
        assert np.allclose(s.points[:, 0], 0.5 * (a.points[:, 0] + b.points[:, 0]))
    assert any(not np.allclose(a.points, b.points) for a, b in zip(raw_a, raw_b))  # there was something to blend
    assert all(np.array_equal(x.points, y.points) for x, y in zip(detector.detect(other).lanes, raw_b))
    detector.set_temporal(None)
    assert all(np.array_equal(x.points, y.points) for x, y in zip(detector.detect(other, stamp=0.08).lanes, raw_b))
