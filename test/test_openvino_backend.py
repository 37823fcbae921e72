"""The OpenVINO backend: the real ONNX export of a real model, against eager torch, in float32 and
bfloat16; threads and precision reach OpenVINO; what cannot load says why in one line and the
detector falls back to torch."""

from __future__ import annotations

import builtins
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

from lane_sad_core.cli import main
from lane_sad_core.data.formats import read_culane_lines
from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError
from lane_sad_core.export.onnx import export_checkpoint
from lane_sad_core.infer import DEFAULT_CHECKPOINT, LaneDetector, PostprocessConfig
from lane_sad_core.infer.backends import make_backend
from lane_sad_core.infer.errors import BackendError
from lane_sad_core.infer.openvino_backend import OpenVINOBackend, _choose_precision, one_line, per_channel_prelu_slopes
from lane_sad_core.metrics.culane import CulaneSettings, culane_frame_counts
from lane_sad_core.models import build_model
from lane_sad_core.models.checkpoint import model_payload, save_checkpoint

openvino = pytest.importorskip("openvino")
H, W = 64, 160
FRAMES = (
    "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030819_0755.MP4/00000.jpg",
    "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030822_0756.MP4/00000.jpg",
)
DECODE_ALL = PostprocessConfig(prob_threshold=0.0, num_rows=18)
NATIVE_BF16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A settled small ENet-SAD checkpoint with its static-batch ONNX export beside it."""
    torch.manual_seed(1)
    model = build_model("enet_sad", input_height=H, input_width=W).train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(2, 3, H, W))
        model.exist.fc2.bias.fill_(10.0)
    path = save_checkpoint(
        tmp_path_factory.mktemp("ov") / "small.pt", model_payload(model.eval(), PreprocessConfig(width=W, height=H))
    )
    export_checkpoint(path, path.with_suffix(".onnx"))
    return path


@pytest.fixture(scope="module")
def labelled(real_data: Path) -> list[tuple[np.ndarray, list]]:
    """Real CULane frames with their labels: one of the shipped model's training clip, one it never saw."""
    out = []
    for rel in FRAMES:
        image = cv2.imread(str(real_data / rel))
        assert image is not None
        out.append((image, read_culane_lines((real_data / rel).with_suffix(".lines.txt"))))
    return out


def test_f32_gives_torchs_lanes_and_probabilities(checkpoint, labelled):
    ref = LaneDetector(checkpoint, "cpu", DECODE_ALL)
    detector = LaneDetector(checkpoint, "cpu", DECODE_ALL, backend="openvino-f32")
    assert detector.backend_name == "openvino-f32" and detector.backend.precision == "f32"
    assert detector.meta.preprocess == ref.meta.preprocess and detector.model is None  # read from the .onnx
    images = [image for image, _ in labelled]
    for image, got in zip(images, detector.detect_batch([*images])):  # the batch-1 file runs frame by frame
        want = ref.detect(image)
        assert [lane.slot for lane in got.lanes] == [lane.slot for lane in want.lanes] and len(want.lanes) == 4
        assert np.abs(got.prob - want.prob).max() < 1e-4 and np.abs(got.exist - want.exist).max() < 1e-4
        # Decoding all rows of an untrained model: a 1e-6 difference may move one row's argmax on
        # another CPU's kernels, so each lane must match on its rows, not bit for bit.
        for a, b in zip(got.lanes, want.lanes):
            assert a.points.shape == b.points.shape and np.median(np.abs(a.points - b.points)) <= 1.0


def test_dynamic_batch_runs_in_one_call(checkpoint, tmp_path):
    dynamic = export_checkpoint(checkpoint, tmp_path / "dynamic.onnx", dynamic_batch=True).path
    backend = OpenVINOBackend(dynamic, "cpu", precision="f32")
    assert backend.fixed_batch is None
    x = np.random.default_rng(0).normal(size=(3, 3, H, W)).astype(np.float32)
    prob, exist = backend.run(x)
    assert prob.shape == (3, 5, H, W) and exist.shape == (3, 4)
    one, _ = backend.run(x[1:2])
    assert np.abs(prob[1] - one[0]).max() < 1e-5


def test_threads_and_precision_reach_openvino(checkpoint):
    backend = make_backend("openvino", checkpoint, "cpu", threads=1)
    assert backend.compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert str(backend.compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"
    want = "bf16" if NATIVE_BF16 else "f32"
    assert backend.precision == want and backend.name == "openvino"
    assert (
        backend.compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.bf16
        if NATIVE_BF16
        else openvino.Type.f32
    )


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_checkpoint(DEFAULT_CHECKPOINT, tmp_path_factory.mktemp("shipped") / "shipped.onnx").path


def test_bf16_finds_the_shipped_models_lanes(shipped_onnx, labelled):
    """bfloat16 (where native): probabilities within 1e-2 on average, at most one of eager torch's
    lanes per frame not matched (CULane IoU > 0.5) and as many labelled lanes found; float32
    elsewhere, then within 1e-4 and every lane matched.

    OpenVINO stores every activation in bfloat16 (inductor keeps its fused elementwise tails in
    float32), so it drifts further than torch-compile-bf16: here 4 of 4 and 3 of 4 lanes, the
    fourth a far-side lane whose distant points fall on the other side of the 0.3 threshold.
    """
    ref = LaneDetector(None, "cpu")
    detector = LaneDetector(shipped_onnx, "cpu", backend="openvino")
    assert detector.backend.precision == ("bf16" if NATIVE_BF16 else "f32")
    for image, labels in labelled:
        want, got = ref.detect(image), detector.detect(image)
        diff = np.abs(got.prob - want.prob)
        if NATIVE_BF16:
            assert 0 < diff.mean() < 1e-2  # not 0: it did compute in bfloat16
            assert np.abs(got.exist - want.exist).max() < 0.02
        else:
            assert diff.max() < 1e-4
        settings = CulaneSettings(width=image.shape[1], height=image.shape[0])
        assert len(want.lanes) >= 3
        matched = culane_frame_counts(got.lanes, want.lanes, settings)[0]
        assert matched >= len(want.lanes) - (1 if NATIVE_BF16 else 0)
        assert (
            culane_frame_counts(got.lanes, labels, settings)[0] == culane_frame_counts(want.lanes, labels, settings)[0]
        )


def test_precision_choice():
    assert _choose_precision("auto", ["FP32", "BF16"]) == "bf16"
    assert _choose_precision("auto", ["FP32"]) == "f32"
    assert _choose_precision("f32", ["FP32", "BF16"]) == "f32"
    with pytest.raises(BackendError, match=r"^openvino bf16: this CPU has no native bfloat16 \(needs AVX512-BF16"):
        _choose_precision("bf16", ["FP32"])


def test_bad_inputs_say_why_in_one_line(checkpoint, tmp_path):
    with pytest.raises(BackendError, match=r"^the openvino backend runs on the CPU, not 'cuda'; use onnxruntime"):
        OpenVINOBackend(checkpoint.with_suffix(".onnx"), "cuda")
    with pytest.raises(BackendError, match=r"^openvino precision 'fp8'; known: auto, bf16, f32$"):
        OpenVINOBackend(checkpoint.with_suffix(".onnx"), precision="fp8")
    with pytest.raises(CheckpointError, match="ONNX model not found"):
        OpenVINOBackend(tmp_path / "missing.onnx")
    proto = onnx.load(str(checkpoint.with_suffix(".onnx")))
    proto.graph.node[3].op_type = "NoSuchOp"  # metadata intact, graph not runnable
    broken = tmp_path / "broken.onnx"
    onnx.save(proto, str(broken))
    with pytest.raises(BackendError) as info:
        OpenVINOBackend(broken)
    message = str(info.value)
    assert message.startswith(f"openvino cannot compile {broken}: ") and "NoSuchOp" in message
    assert "\n" not in message and "Exception from" not in message


def test_one_line_drops_openvinos_frames():
    exc = RuntimeError("Exception from src/a.cpp:1:\nException from src/b.cpp:2:\nCheck 'x' failed\nbad op\n")
    assert one_line(exc) == "Check 'x' failed bad op"


def test_missing_openvino_falls_back_to_torch_in_one_warning(checkpoint, monkeypatch, caplog):
    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    with caplog.at_level(logging.WARNING, logger="lane_sad_core.infer.detector"):
        detector = LaneDetector(checkpoint.with_suffix(".onnx"), "cpu", backend="openvino")
    assert detector.backend_name == "torch"
    (record,) = caplog.records
    assert record.getMessage() == (
        "backend openvino unavailable: openvino is not installed here (pip install openvino); "
        f"falling back to torch with {checkpoint}"
    )


def test_cli_infer_with_openvino(checkpoint, labelled, tmp_path):
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), labelled[0][0])
    args = ["infer", str(image), "--out", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--device", "cpu"]
    assert main([*args, "--backend", "openvino-f32"]) == 0
    lanes = json.loads((tmp_path / "out" / "frame.json").read_text())["lanes"]
    ref = LaneDetector(checkpoint, "cpu").detect(cv2.imread(str(image)))
    assert [lane["slot"] for lane in lanes] == [lane.slot for lane in ref.lanes]


def test_prelus_fuse_into_the_convolutions(checkpoint):
    """Reshaped slopes let OpenVINO fuse ENet's PReLUs: without the rewrite each runs alone between reorders."""

    def layer_types(compiled) -> list[str]:
        return [op.get_rt_info()["layerType"].astype(str) for op in compiled.get_runtime_model().get_ordered_ops()]

    path = checkpoint.with_suffix(".onnx")
    fused = layer_types(OpenVINOBackend(path, precision="f32").compiled)
    core = openvino.Core()
    raw = layer_types(core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}))
    # PReLUs run as "Eltwise" layers: as exported 89 of them unfused and ~190 layout reorders
    assert raw.count("Eltwise") > 80 and raw.count("Reorder") > 150
    assert fused.count("Eltwise") < 5 and fused.count("Reorder") < 20
    model = core.read_model(str(path))
    assert per_channel_prelu_slopes(model) == 91 and per_channel_prelu_slopes(model) == 0
