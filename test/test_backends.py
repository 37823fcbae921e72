"""Backends behind LaneDetector: same lanes from ONNX Runtime and compiled torch as from eager
torch, bfloat16 close to it, file lookup, fallback to torch with one warning, attention from
torch models only, and TensorRT where it exists."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lane_sad_core.cli import build_parser, main
from lane_sad_core.data.formats import read_culane_lines
from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError, ConfigError
from lane_sad_core.export.onnx import export_checkpoint
from lane_sad_core.infer import LaneDetector, PostprocessConfig, torch_backend
from lane_sad_core.infer.backends import BACKENDS, REGISTRY, make_backend, model_file_for
from lane_sad_core.infer.base import run_in_chunks
from lane_sad_core.infer.errors import BackendError
from lane_sad_core.infer.onnxruntime_backend import OnnxRuntimeBackend, _ort_providers
from lane_sad_core.infer.torch_backend import CompiledTorchBackend, TorchBackend, has_native_bf16
from lane_sad_core.metrics.culane import CulaneSettings, culane_frame_counts
from lane_sad_core.metrics.raster import iou_matrix
from lane_sad_core.models import build_model
from lane_sad_core.models.checkpoint import model_payload, save_checkpoint

pytest.importorskip("onnxruntime")
H, W = 64, 160
CULANE = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030819_0755.MP4/00000.jpg"
HELD_OUT = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030822_0756.MP4/00000.jpg"
# Every slot exists and every sampled row yields a point, so lanes compare point by point.
DECODE_ALL = PostprocessConfig(prob_threshold=0.0, num_rows=18, fit="official")  # the official 18 rows per lane
# The per-row decoding keeps a backend's lanes comparable point for point: the robust fit's
# least squares would turn a 1e-6 difference in the maps into a 1e-12 difference in the points.
OFFICIAL = PostprocessConfig(fit="official")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A settled small ENet-SAD checkpoint with its static-batch ONNX export beside it."""
    torch.manual_seed(0)
    model = build_model("enet_sad", input_height=H, input_width=W).train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(2, 3, H, W))
        model.exist.fc2.bias.fill_(10.0)
    path = save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "small.pt", model_payload(model.eval(), PreprocessConfig(width=W, height=H))
    )
    export_checkpoint(path, path.with_suffix(".onnx"))
    return path


@pytest.fixture(scope="module")
def frame(real_data: Path) -> np.ndarray:
    image = cv2.imread(str(real_data / CULANE))
    assert image is not None
    return image


@pytest.fixture(scope="module")
def torch_detector(checkpoint: Path) -> LaneDetector:
    return LaneDetector(checkpoint, "cpu", DECODE_ALL)


@pytest.fixture(scope="module")
def ort_detector(checkpoint: Path) -> LaneDetector:
    return LaneDetector(checkpoint.with_suffix(".onnx"), "cpu", DECODE_ALL, backend="onnxruntime")


def assert_same_lanes(a, b) -> None:
    assert [lane.slot for lane in a] == [lane.slot for lane in b]
    for la, lb in zip(a, b):
        assert np.array_equal(la.points, lb.points)
        assert np.allclose(la.confidence, lb.confidence, atol=1e-5)


def test_onnxruntime_gives_the_same_lanes_as_torch(torch_detector, ort_detector, frame):
    assert ort_detector.backend_name == "onnxruntime" and ort_detector.model is None
    assert ort_detector.meta.preprocess == torch_detector.meta.preprocess  # read from the .onnx
    ref, got = torch_detector.detect(frame), ort_detector.detect(frame)
    assert len(ref.lanes) == 4 and sum(len(lane) for lane in ref.lanes) == 4 * 18
    assert_same_lanes(ref.lanes, got.lanes)
    assert np.abs(ref.prob - got.prob).max() < 1e-4
    assert np.abs(ref.exist - got.exist).max() < 1e-4
    assert set(got.timings) == {"preprocess", "inference", "postprocess"}


def test_static_onnx_batch_runs_frame_by_frame(ort_detector, torch_detector, frame):
    small = cv2.resize(frame, (820, 295))
    assert ort_detector.backend.fixed_batch == 1
    batch = ort_detector.detect_batch([frame, small, frame])
    assert len(batch) == 3
    for got, image in zip(batch, (frame, small, frame)):
        assert_same_lanes(torch_detector.detect(image).lanes, got.lanes)


def test_a_pt_path_finds_its_onnx_sibling(checkpoint, ort_detector, frame):
    detector = LaneDetector(checkpoint, "cpu", DECODE_ALL, backend="onnxruntime")
    assert detector.backend_name == "onnxruntime" and detector.meta.path == checkpoint.with_suffix(".onnx")
    assert np.array_equal(detector.detect(frame).prob, ort_detector.detect(frame).prob)


def test_model_file_lookup(tmp_path):
    pt = tmp_path / "m.pt"
    assert model_file_for("torch", pt) == pt  # a file of the backend's own kind is taken as given
    (tmp_path / "m.plan").write_bytes(b"")
    assert model_file_for("tensorrt", pt) == tmp_path / "m.plan"
    with pytest.raises(
        BackendError,
        match=r"no .*m\.onnx; create it with `lane-sad export --checkpoint "
        r".*m\.pt --format onnx --out .*m\.onnx`",
    ):
        model_file_for("onnxruntime", pt)


def test_fallback_to_torch_is_one_warning(tmp_path, checkpoint, caplog, frame):
    lone = tmp_path / "lone.pt"
    lone.write_bytes(checkpoint.read_bytes())  # no lone.onnx beside it
    with caplog.at_level(logging.WARNING, logger="lane_sad_core.infer.detector"):
        detector = LaneDetector(lone, "cpu", DECODE_ALL, backend="onnxruntime")
    assert detector.backend_name == "torch" and detector.model is not None
    (record,) = caplog.records
    assert record.getMessage().startswith("backend onnxruntime unavailable: ")
    assert record.getMessage().endswith(f"falling back to torch with {lone}")
    assert "\n" not in record.getMessage()


def test_no_pt_to_fall_back_to_raises(tmp_path, checkpoint):
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(checkpoint.with_suffix(".onnx").read_bytes())
    with pytest.raises(BackendError, match=r"no \.pt checkpoint beside .*lone\.onnx to fall back to"):
        LaneDetector(lone, "cpu", backend="tensorrt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        LaneDetector(tmp_path / "missing.pt", "cpu", backend="torch")


def test_onnx_without_metadata_is_refused(tmp_path, checkpoint):
    import onnx

    proto = onnx.load(str(checkpoint.with_suffix(".onnx")))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(CheckpointError, match=r"bare\.onnx lacks lane_sad metadata .*'preprocess'"):
        OnnxRuntimeBackend(bare, "cpu")


def test_unknown_backend_lists_the_known_ones(checkpoint):
    known = "known backends: torch, torch-compile, torch-compile-bf16, onnxruntime, openvino, openvino-f32, tensorrt"
    with pytest.raises(ConfigError, match=f"unknown backend 'tflite'; {known}"):
        make_backend("tflite", checkpoint)


def test_attention_stays_torch_only(torch_detector, ort_detector, frame, caplog):
    assert set(torch_detector.detect(frame, with_attention=True).attention) == {"E2", "E3", "E4"}
    with caplog.at_level(logging.WARNING, logger="lane_sad_core.infer.detector"):
        first = ort_detector.detect(frame, with_attention=True)
        ort_detector.detect(frame, with_attention=True)
    assert first.attention is None and first.lanes
    assert [r.getMessage() for r in caplog.records] == [
        "attention maps need the torch backend; the onnxruntime backend returns none"
    ]


def test_onnxruntime_device_choice():
    assert _ort_providers("auto", ["CPUExecutionProvider"]) == (torch.device("cpu"), ["CPUExecutionProvider"])
    device, providers = _ort_providers("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert device == torch.device("cuda:1")
    assert providers == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    with pytest.raises(BackendError, match="no CUDAExecutionProvider .* install onnxruntime-gpu"):
        _ort_providers("cuda", ["CPUExecutionProvider"])


def test_torch_channels_last_and_threads_keep_the_output(checkpoint):
    x = np.random.default_rng(0).normal(size=(2, 3, H, W)).astype(np.float32)
    threads = torch.get_num_threads()
    plain = TorchBackend.load(checkpoint, "cpu").run(x)
    try:
        fast = TorchBackend.load(checkpoint, "cpu", channels_last=True, threads=1)
        assert torch.get_num_threads() == 1
        got = fast.run(x)
    finally:
        torch.set_num_threads(threads)
    assert got[0].flags.c_contiguous and got[0].shape == (2, 5, H, W)
    assert np.abs(plain[0] - got[0]).max() < 1e-5 and np.abs(plain[1] - got[1]).max() < 1e-5


def test_run_in_chunks_pads_the_last_chunk():
    calls = []

    def fixed_two(batch):
        calls.append(batch.shape[0])
        assert batch.shape[0] == 2
        return batch * 10, batch[:, :1, 0, 0]

    batch = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) + 1
    prob, exist = run_in_chunks(fixed_two, batch, 2)
    assert calls == [2, 2, 2]
    assert prob.ravel().tolist() == [10, 20, 30, 40, 50] and exist.ravel().tolist() == [1, 2, 3, 4, 5]


def test_backend_names_agree_across_cli_and_node():
    from lane_sad_ros.params import BACKENDS as NODE_BACKENDS
    from lane_sad_ros.params import validate

    assert NODE_BACKENDS == BACKENDS
    assert validate("backend", "tensorrt") is None
    assert validate("backend", "tvm") == (
        "backend must be one of torch, torch-compile, torch-compile-bf16, onnxruntime, openvino, openvino-f32, tensorrt"
    )
    infer = build_parser()._subparsers._group_actions[0].choices["infer"]
    (action,) = [a for a in infer._actions if a.dest == "backend"]
    assert tuple(action.choices) == BACKENDS


def test_every_registered_backend_names_a_loader_that_exists():
    for name, kind in REGISTRY.items():
        assert callable(kind.resolve()), name


def test_cli_infer_with_onnxruntime(checkpoint, frame, tmp_path, capsys, torch_detector):
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), frame)
    args = [
        "infer",
        str(image),
        "--out",
        str(tmp_path / "out"),
        "--checkpoint",
        str(checkpoint),
        "--device",
        "cpu",
        "--backend",
        "onnxruntime",
    ]
    assert main(args) == 0
    lanes = json.loads((tmp_path / "out" / "frame.json").read_text())["lanes"]
    ref = LaneDetector(checkpoint, "cpu").detect(cv2.imread(str(image)))
    assert [lane["slot"] for lane in lanes] == [lane.slot for lane in ref.lanes]
    assert main([*args, "--attention"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("--attention needs the torch backend; onnxruntime models carry only the lane outputs")
    )


def test_tensorrt_backend_explains_what_is_missing(tmp_path):
    from lane_sad_core.infer.tensorrt_backend import TensorRTBackend

    if importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available():
        pytest.skip("TensorRT and CUDA are present: see test_export.py::test_tensorrt_engine_matches_pytorch")
    with pytest.raises(BackendError, match="TensorRT is not installed here|needs a CUDA device"):
        TensorRTBackend(tmp_path / "m.engine")


@pytest.mark.cuda
def test_tensorrt_detector_gives_the_same_lanes_as_torch(checkpoint, torch_detector, frame, tmp_path):
    """An FP32 engine decodes the same lanes (CUDA machines with TensorRT only)."""
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("TensorRT not installed: no `tensorrt` Python module on this machine")
    if not torch.cuda.is_available():
        pytest.skip("TensorRT not usable: no CUDA device visible to torch")
    from lane_sad_core.export.tensorrt import build_engine

    engine = build_engine(checkpoint.with_suffix(".onnx"), tmp_path / "small.engine", fp16=False)
    detector = LaneDetector(engine, "cuda", DECODE_ALL, backend="tensorrt")
    assert detector.backend_name == "tensorrt"
    got = detector.detect_batch([frame, frame])
    assert_same_lanes(torch_detector.detect(frame).lanes, got[1].lanes)


@pytest.fixture(scope="module")
def labelled(real_data: Path) -> list[tuple[np.ndarray, list]]:
    """Two real CULane frames with their labelled lanes: one of the shipped model's training
    clip, one of the clip it never saw."""
    frames = []
    for rel in (CULANE, HELD_OUT):
        image = cv2.imread(str(real_data / rel))
        assert image is not None
        frames.append((image, read_culane_lines((real_data / rel).with_suffix(".lines.txt"))))
    return frames


@pytest.fixture(scope="module")
def shipped_torch() -> LaneDetector:
    return LaneDetector(None, "cpu", OFFICIAL)


@pytest.mark.slow
def test_torch_compile_gives_the_same_lanes_as_torch(shipped_torch, labelled):
    """Compiled (float32, frozen weights): eager torch's lanes and probabilities within 1e-4."""
    detector = LaneDetector(None, "cpu", OFFICIAL, backend="torch-compile")
    assert detector.backend_name == "torch-compile" and detector.backend.warmup_s > 0
    images = [image for image, _ in labelled]
    batch = detector.detect_batch(images)  # batch 2 runs frame by frame through the batch-1 graph
    for image, got in zip(images, batch):
        ref = shipped_torch.detect(image)
        assert len(ref.lanes) >= 3
        assert_same_lanes(ref.lanes, got.lanes)
        assert np.abs(ref.prob - got.prob).max() < 1e-4 and np.abs(ref.exist - got.exist).max() < 1e-4
    assert set(detector.detect(images[0], with_attention=True).attention) == set(detector.attention_blocks)


@pytest.mark.slow
def test_torch_compile_bf16_finds_the_same_lanes(shipped_torch, labelled):
    """bfloat16 network: probabilities within 5e-3 on average (0.2 at single pixels near the decision
    threshold), every eager-torch lane matched (CULane IoU > 0.5), and each labelled lane covered as
    well as eager torch covers it (best IoU within 0.03: a count of IoU > 0.5 would flip on a lane
    at 0.51 against 0.49)."""
    if not has_native_bf16(torch.device("cpu")):
        pytest.skip("this CPU has no native bfloat16 (AVX512-BF16 / AMX)")
    detector = LaneDetector(None, "cpu", OFFICIAL, backend="torch-compile-bf16")
    assert detector.backend_name == "torch-compile-bf16"
    for image, labels in labelled:
        ref, got = shipped_torch.detect(image), detector.detect(image)
        assert got.prob.dtype == np.float32
        assert 0 < np.abs(ref.prob - got.prob).mean() < 5e-3  # not 0: it did run in bfloat16
        assert np.abs(ref.exist - got.exist).max() < 0.02
        settings = CulaneSettings(width=image.shape[1], height=image.shape[0])
        assert culane_frame_counts(got.lanes, ref.lanes, settings) == (len(ref.lanes), 0, 0)
        best = [
            iou_matrix([lane.points for lane in labels], [lane.points for lane in d.lanes], *image.shape[1::-1]).max(1)
            for d in (ref, got)
        ]
        assert np.abs(best[0] - best[1]).max() < 0.03


def test_no_native_bf16_falls_back_to_torch(checkpoint, monkeypatch, caplog):
    monkeypatch.setattr(torch_backend, "has_native_bf16", lambda device: False)
    with pytest.raises(BackendError, match=r"^torch-compile-bf16: no native bfloat16 on cpu \(needs AVX512-BF16"):
        CompiledTorchBackend.load(checkpoint, "cpu", bf16=True)
    with caplog.at_level(logging.WARNING, logger="lane_sad_core.infer.detector"):
        detector = LaneDetector(checkpoint, "cpu", backend="torch-compile-bf16")
    assert detector.backend_name == "torch" and type(detector.backend) is TorchBackend
    (record,) = caplog.records
    assert record.getMessage().startswith("backend torch-compile-bf16 unavailable: torch-compile-bf16: no native")
    assert record.getMessage().endswith(f"falling back to torch with {checkpoint}")


def test_a_failing_compilation_says_why_in_one_line(checkpoint, monkeypatch, caplog):
    """What inductor raises without a C++ compiler (its first line) becomes one BackendError line."""

    def compile_without_compiler(module, **options):
        def run(*args):
            raise RuntimeError(
                "InvalidCxxCompiler: No working C++ compiler found in "
                "torch._inductor.config.cpp.cxx: (None, 'g++')\n\nSet TORCHDYNAMO_VERBOSE=1 ..."
            )

        return run

    monkeypatch.setattr(torch, "compile", compile_without_compiler)
    with caplog.at_level(logging.WARNING, logger="lane_sad_core.infer.detector"):
        detector = LaneDetector(checkpoint, "cpu", backend="torch-compile")
    assert detector.backend_name == "torch"
    (record,) = caplog.records
    assert record.getMessage() == (
        "backend torch-compile unavailable: torch.compile failed on cpu: RuntimeError: InvalidCxxCompiler: "
        "No working C++ compiler found in torch._inductor.config.cpp.cxx: (None, 'g++'); "
        f"falling back to torch with {checkpoint}"
    )
