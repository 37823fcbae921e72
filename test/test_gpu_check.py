"""tools/gpu_check.sh on this CPU machine: it runs end to end in its quick mode, skips every CUDA part
with the reason, and writes its one results file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_skips_the_cuda_parts_cleanly_without_a_gpu(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: run `make gpu-check` itself, which runs the CUDA parts")
    out = tmp_path / "gpu.md"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "gpu_check.sh"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = out.read_text()
    assert report.startswith("# GPU check") and "nothing was installed" in report
    assert "**torch sees no CUDA device**" in report and "this is the smoke run, not a GPU result" in report
    tests = [line for line in report.splitlines() if line.startswith("| `test_")]
    names = {line.split("`")[1] for line in tests}
    assert {
        "test_cuda::test_training_steps_with_amp",
        "test_cuda::test_ddp_step_with_nccl",
        "test_cuda::test_detector_on_cuda_through_pinned_memory_and_one_stream",
        "test_cuda::test_onnxruntime_cuda_provider",
        "test_node::test_node_runs_on_cuda",
        "test_export::test_tensorrt_engine_matches_pytorch",
    } <= names
    assert all("| skipped |" in line and "no CUDA device visible to torch" in line for line in tests)
    assert "## Backends on the GPU (`bench/bench_gpu.py`)\n\nNot run: no CUDA device visible to torch." in report


def test_gpu_check_refuses_a_python_without_torch(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "gpu_check.sh"), "--out", str(tmp_path / "gpu.md")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": str(fake)},
    )
    assert done.returncode == 2 and not (tmp_path / "gpu.md").exists()
    assert done.stderr.strip() == f"gpu_check: {fake} cannot import torch; set PYTHON to an interpreter with PyTorch"
