"""The CUDA paths: training with AMP, DDP over NCCL, the detector on a GPU through pinned memory and one
stream, ONNX Runtime's CUDA provider. Marked ``cuda``: on a machine without a CUDA device every test
here skips with that reason; ``tools/gpu_check.sh`` runs them (and the TensorRT tests, also marked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import REAL_DATA
from trainutil import make_synth_root, rows, train, write_config

from lane_sad_core.infer import LaneDetector
from lane_sad_core.metrics.culane import CulaneSettings, culane_frame_counts

pytestmark = pytest.mark.cuda
CULANE = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030822_0756.MP4/00000.jpg"


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth_root(tmp_path_factory)


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """A real CULane frame when the real frames are here, else a synthetic road."""
    image = cv2.imread(str(REAL_DATA / CULANE))
    if image is None:
        from lane_sad_core.data.sequence import synthetic_frames

        image = next(iter(synthetic_frames(tmp_path_factory.mktemp("frames"), 1, seed=11))).image
    return image


def test_training_steps_with_amp(tmp_path: Path, synth_root: Path) -> None:
    """Four iterations on the GPU under autocast; the GradScaler's state proves AMP ran."""
    out = train(write_config(tmp_path, synth_root, **{"optim.iterations": 4}))
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "runs" / "tiny"
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["iteration"] == 4 and ckpt["scaler"].get("scale", 0) > 0
    assert [int(r["iteration"]) for r in rows(run)] == [2, 4]
    weights = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


def test_ddp_step_with_nccl(tmp_path: Path, synth_root: Path) -> None:
    """Two processes, one GPU each, gradients averaged over NCCL."""
    if torch.cuda.device_count() < 2:
        pytest.skip(f"DDP over NCCL needs 2 CUDA devices; torch sees {torch.cuda.device_count()}")
    cfg = write_config(tmp_path, synth_root, **{"optim.iterations": 4, "optim.batch_size": 2})
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-port", str(29500 + os.getpid() % 1000), "-m", "lane_sad_core", "train"]
    command += ["--config", str(cfg), "--no-progress", "--set", "name=ddp"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt = torch.load(tmp_path / "runs" / "ddp" / "last.pt", weights_only=True)
    assert ckpt["iteration"] == 4 and len(ckpt["rng"]) == 2


def test_detector_on_cuda_through_pinned_memory_and_one_stream(frame: np.ndarray) -> None:
    """The shipped model on the GPU finds the CPU's lanes (TF32 convolutions: close, not equal)."""
    cpu, gpu = LaneDetector(None, "cpu"), LaneDetector(None, "cuda")
    transfer = gpu.backend.transfer
    assert gpu.device.type == "cuda" and transfer is not None
    want, got = cpu.detect(frame), gpu.detect(frame, with_attention=True)
    stream = transfer.stream
    again = gpu.detect(frame)
    assert transfer.stream is stream and transfer.host_buffer("input", (1, 3, 144, 400), torch.float32).is_pinned()
    assert np.array_equal(got.prob, again.prob)  # the reused pinned buffers hand out copies
    assert np.abs(got.prob - want.prob).mean() < 1e-3 and np.abs(got.exist - want.exist).max() < 1e-2
    assert set(got.attention) == set(gpu.attention_blocks)
    settings = CulaneSettings(width=frame.shape[1], height=frame.shape[0])
    assert culane_frame_counts(got.lanes, want.lanes, settings) == (len(want.lanes), 0, 0)


def test_onnxruntime_cuda_provider(frame: np.ndarray, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed here")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime has no CUDAExecutionProvider ({', '.join(ort.get_available_providers())})")
    from lane_sad_core.export.onnx import export_checkpoint
    from lane_sad_core.infer import DEFAULT_CHECKPOINT

    onnx_path = export_checkpoint(DEFAULT_CHECKPOINT, tmp_path / "shipped.onnx").path
    gpu = LaneDetector(onnx_path, "cuda", backend="onnxruntime")
    assert gpu.backend_name == "onnxruntime" and gpu.device.type == "cuda"
    want, got = LaneDetector(None, "cpu").detect(frame), gpu.detect(frame)
    assert np.abs(got.prob - want.prob).mean() < 1e-3
    settings = CulaneSettings(width=frame.shape[1], height=frame.shape[0])
    assert culane_frame_counts(got.lanes, want.lanes, settings) == (len(want.lanes), 0, 0)
