"""ONNX export: shapes, dynamic batch, metadata, the PyTorch check, and the CLI's one-line errors."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from lane_sad_core.cli import main
from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError
from lane_sad_core.export import onnx as onnx_export
from lane_sad_core.export.errors import ExportError
from lane_sad_core.export.metadata import KEYS, read_sidecar, sidecar_path, write_sidecar
from lane_sad_core.export.onnx import export_checkpoint, read_onnx_meta, verify_onnx
from lane_sad_core.models import build_model
from lane_sad_core.models.checkpoint import load_model, model_payload, save_checkpoint

H, W = 64, 160
CLASSES = ["background", "ego_left_far", "ego_left", "ego_right", "ego_right_far"]
onnxruntime = pytest.importorskip("onnxruntime")


def settled_enet(seed: int) -> torch.nn.Module:
    """A small ENet-SAD whose BatchNorm statistics come from a few passes, as after training.

    A freshly initialised model in eval mode produces logits of ~1e5, where float32
    rounding alone moves softmax outputs by ~1e-3; trained models live near O(1).
    """
    torch.manual_seed(seed)
    model = build_model("enet_sad", input_height=H, input_width=W).train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(2, 3, H, W))
    return model.eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pre = PreprocessConfig(width=W, height=H, crop_top=0.25, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    return save_checkpoint(path, model_payload(settled_enet(0), pre, CLASSES))


@pytest.fixture(scope="module")
def static_onnx(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Exported through the CLI, which also prints what it checked."""
    out = tmp_path_factory.mktemp("onnx") / "static.onnx"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["export", "--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(out)])
    assert code == 0
    return out, buffer.getvalue()


@pytest.fixture(scope="module")
def dynamic_onnx(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    return export_checkpoint(checkpoint, tmp_path_factory.mktemp("onnx") / "dynamic.onnx", dynamic_batch=True)


def torch_probabilities(checkpoint: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    model, _ = _loaded(checkpoint)
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return torch.softmax(out["seg"], 1).numpy(), torch.sigmoid(out["exist"]).numpy()


@functools.cache
def _loaded(checkpoint: Path):
    return load_model(checkpoint)


def test_static_export_has_the_documented_signature(static_onnx, checkpoint):
    path, printed = static_onnx
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert (inp.name, inp.shape, inp.type) == ("image", [1, 3, H, W], "tensor(float)")
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("prob", [1, 5, H, W]), ("exist", [1, 4])]
    x = np.random.default_rng(1).normal(size=(1, 3, H, W)).astype(np.float32)
    prob, exist = session.run(None, {"image": x})
    ref_prob, ref_exist = torch_probabilities(checkpoint, x)
    assert np.abs(prob - ref_prob).max() < 1e-4 and np.abs(exist - ref_exist).max() < 1e-4
    assert np.allclose(prob.sum(axis=1), 1.0, atol=1e-5)  # probabilities, not logits
    assert f"wrote {path} (opset 17, batch 1)" in printed and "max |prob diff|" in printed
    assert onnx.load(str(path)).opset_import[0].version == 17


def test_dynamic_export_runs_other_batch_sizes(dynamic_onnx, checkpoint):
    assert dynamic_onnx.dynamic_batch and dynamic_onnx.prob_max_diff < 1e-4
    session = onnxruntime.InferenceSession(str(dynamic_onnx.path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 3, H, W]
    for batch in (1, 3):  # sizes the exports ran already: no new oneDNN kernels to build
        x = np.random.default_rng(batch).normal(size=(batch, 3, H, W)).astype(np.float32)
        prob, exist = session.run(None, {"image": x})
        ref_prob, ref_exist = torch_probabilities(checkpoint, x)
        assert prob.shape == (batch, 5, H, W) and exist.shape == (batch, 4)
        assert np.abs(prob - ref_prob).max() < 1e-4 and np.abs(exist - ref_exist).max() < 1e-4


def test_metadata_makes_the_file_self_describing(static_onnx, checkpoint):
    path, _ = static_onnx
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert set(props) == set(KEYS)
    assert json.loads(props["preprocess"]) == {
        "width": W,
        "height": H,
        "crop_top": 0.25,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
    }
    assert json.loads(props["classes"]) == CLASSES
    meta = read_onnx_meta(path)
    _, ref = load_model(checkpoint)
    assert (meta.model_name, meta.model_config, meta.classes, meta.preprocess) == (
        ref.model_name,
        ref.model_config,
        ref.classes,
        ref.preprocess,
    )
    assert meta.path == path


def test_engine_sidecar_round_trips_the_metadata(static_onnx, tmp_path):
    path, _ = static_onnx
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    engine = tmp_path / "model.engine"
    assert write_sidecar(engine, {**props, "precision": "fp16"}) == sidecar_path(engine)
    assert sidecar_path(engine).name == "model.engine.json"
    assert read_sidecar(engine).preprocess == read_onnx_meta(path).preprocess
    with pytest.raises(CheckpointError, match="other.engine has no metadata file other.engine.json"):
        read_sidecar(tmp_path / "other.engine")


def test_check_fails_against_other_weights(static_onnx):
    path, _ = static_onnx
    with pytest.raises(ExportError, match=r"'prob' differs from PyTorch by [0-9.e-]+ \(max abs\) > 0.0001"):
        verify_onnx(path, settled_enet(seed=1), (H, W))


def test_check_fails_on_a_tampered_graph(static_onnx, checkpoint, tmp_path):
    path, _ = static_onnx
    proto = onnx.load(str(path))
    (weight,) = [t for t in proto.graph.initializer if t.name == "model.full_conv.weight"]  # last layer
    values = numpy_helper.to_array(weight) * 1.05
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(proto, str(tampered))
    model, _ = _loaded(checkpoint)
    assert verify_onnx(path, model, (H, W))[0] < 1e-4  # the untouched file passes
    with pytest.raises(ExportError, match="'prob' differs from PyTorch"):
        verify_onnx(tampered, model, (H, W))


class _WrongHead(onnx_export.ProbabilityModel):
    """Exports a slightly different function: what a broken export would look like."""

    def forward(self, image):
        prob, exist = super().forward(image)
        return torch.softmax(torch.log(prob) * 1.1, dim=1), exist


def test_failed_check_leaves_no_file(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "ProbabilityModel", _WrongHead)
    out = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match=r"'prob' differs from PyTorch by 0\.\d+ .*export refused"):
        export_checkpoint(checkpoint, out)
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_checkpoint_is_one_line(tmp_path, capsys):
    code = main(
        ["export", "--checkpoint", str(tmp_path / "nope.pt"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"lane-sad export: error: checkpoint not found: {tmp_path / 'nope.pt'}"
    assert not (tmp_path / "m.onnx").exists()


def test_cli_int8_without_images_is_refused(tmp_path, capsys):
    code = main(
        [
            "export",
            "--checkpoint",
            str(tmp_path / "m.pt"),
            "--format",
            "tensorrt",
            "--int8",
            "--out",
            str(tmp_path / "m.engine"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.strip().endswith("--int8 needs --calib-images DIR (frames from the target camera)")


def test_cli_tensorrt_without_tensorrt_says_where_to_run(checkpoint, tmp_path, capsys):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here: the missing-TensorRT message cannot be shown")
    code = main(
        ["export", "--checkpoint", str(checkpoint), "--format", "tensorrt", "--out", str(tmp_path / "m.engine")]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "TensorRT is not installed here" in err and "on the target (e.g. the Jetson)" in err
    assert list(tmp_path.iterdir()) == []  # failed before exporting anything


@pytest.mark.cuda
def test_tensorrt_engine_matches_pytorch(checkpoint, tmp_path):
    """Builds an FP16 engine through the CLI and compares it with PyTorch (CUDA machines only)."""
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("TensorRT not installed: no `tensorrt` Python module on this machine")
    if not torch.cuda.is_available():
        pytest.skip("TensorRT not usable: no CUDA device visible to torch")
    from lane_sad_core.infer.tensorrt_backend import TensorRTBackend

    engine = tmp_path / "m.engine"
    args = ["export", "--checkpoint", str(checkpoint), "--format", "tensorrt", "--out", str(engine)]
    assert main(args) == 0
    backend = TensorRTBackend(engine)
    x = np.random.default_rng(0).normal(size=(1, 3, H, W)).astype(np.float32)
    prob, exist = backend.run(x)
    ref_prob, ref_exist = torch_probabilities(checkpoint, x)
    assert np.abs(prob - ref_prob).max() < 1e-2  # FP16 kernels
    assert np.abs(exist - ref_exist).max() < 1e-2
