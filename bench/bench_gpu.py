"""Backends on a CUDA GPU: ENet-SAD at 288x800, batch 1, and the whole detector on a camera frame.

Run from the repository root on a machine with a CUDA device (``tools/gpu_check.sh`` runs it)::

    PYTHONPATH=. python bench/bench_gpu.py --out bench/results     # writes gpu_bench.md

Each backend is timed as the detector calls it: a float32 NumPy batch in, probabilities out
(host-to-device and device-to-host copies included, as the node pays them), synchronised,
median of ``--calls`` calls after a warm-up. Rows: eager torch in float32 (TF32 convolutions,
torch's default) and channels-last; the same under float16 autocast; ``torch.compile``
(skipped with ``--quick``); ONNX Runtime's CUDA provider and a TensorRT FP16 engine when
their modules import. Accuracy is the largest and mean probability difference from eager
float32 on the same input. Without a CUDA device it says so and writes nothing, so
``make bench`` on a CPU machine passes over it.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.export.onnx import ProbabilityModel
from lane_sad_core.models import build_model
from lane_sad_core.models.checkpoint import load_model, model_payload, save_checkpoint
from lane_sad_core.models.cost import gflops, settled

H, W = 288, 800
REPO = Path(__file__).resolve().parents[1]
Run = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def timed(run: Run, x: np.ndarray, calls: int) -> tuple[list[float], np.ndarray]:
    """Wall ms of ``calls`` synchronised calls after three warm-ups, and the probabilities of the last."""
    for _ in range(3):
        run(x)
    times = []
    for _ in range(calls):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        prob, _ = run(x)
        torch.cuda.synchronize()
        times.append(1e3 * (time.perf_counter() - t0))
    return times, prob


def torch_runs(model: torch.nn.Module, quick: bool) -> dict[str, Run]:
    """Eager float32 and float16, contiguous and channels-last, and torch.compile unless ``quick``."""
    runs: dict[str, Run] = {}
    for layout in (torch.contiguous_format, torch.channels_last):
        head = ProbabilityModel(model).eval().cuda().to(memory_format=layout)
        for half in (False, True):
            name = f"torch eager, {'float16 autocast' if half else 'float32 (TF32)'}" + (
                ", channels-last" if layout == torch.channels_last else ""
            )
            runs[name] = _torch_run(head, layout, half)
    if not quick and importlib.util.find_spec("triton") is not None:
        compiled = torch.compile(ProbabilityModel(model).eval().cuda())
        runs["torch.compile (inductor, Triton), float16 autocast"] = _torch_run(compiled, torch.contiguous_format, True)
    return runs


def _torch_run(module: Callable, layout: torch.memory_format, half: bool) -> Run:
    @torch.inference_mode()
    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = torch.from_numpy(x).cuda(non_blocking=True).contiguous(memory_format=layout)
        with torch.autocast("cuda", dtype=torch.float16, enabled=half):
            prob, exist = module(t)
        return prob.float().cpu().numpy(), exist.float().cpu().numpy()

    return run


def runtime_runs(checkpoint: Path, tmp: Path) -> tuple[dict[str, Run], list[str]]:
    """The detector's own GPU backends (torch with pinned memory, ONNX Runtime CUDA, TensorRT FP16)
    as far as they load here, and why the others do not."""
    from lane_sad_core.infer.backends import make_backend

    runs: dict[str, Run] = {"`torch` backend (pinned input, one stream)": make_backend("torch", checkpoint, "cuda").run}
    skipped = []
    try:
        from lane_sad_core.export.onnx import export_checkpoint

        onnx_path = export_checkpoint(checkpoint, checkpoint.with_suffix(".onnx")).path
    except Exception as exc:  # no onnxruntime to verify the export, ...
        return runs, [f"ONNX export failed ({type(exc).__name__}: {exc}): no ONNX Runtime or TensorRT rows"]
    try:
        runs["`onnxruntime` backend, CUDA provider"] = make_backend("onnxruntime", onnx_path, "cuda").run
    except Exception as exc:
        skipped.append(f"onnxruntime CUDA: {exc}")
    if importlib.util.find_spec("tensorrt") is None:
        skipped.append("tensorrt: no `tensorrt` Python module here")
    else:
        from lane_sad_core.export.tensorrt import build_engine

        try:
            engine = build_engine(onnx_path, tmp / "enet.engine", fp16=True)
            runs["`tensorrt` backend, FP16 engine"] = make_backend("tensorrt", engine, "cuda").run
        except Exception as exc:  # TensorRT's builder and loader raise several types
            skipped.append(f"tensorrt: {type(exc).__name__}: {exc}")
    return runs, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="no torch.compile, 10 calls")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(f"bench_gpu: no CUDA device visible to torch {torch.__version__}; nothing measured", file=sys.stderr)
        return 0
    calls = 10 if args.quick else args.calls
    torch.manual_seed(0)
    model = settled(build_model("enet_sad"), (H, W))
    x = np.random.default_rng(0).normal(size=(1, 3, H, W)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        checkpoint = save_checkpoint(tmp / "enet.pt", model_payload(model, PreprocessConfig(width=W, height=H)))
        load_model(checkpoint)  # fails here, not in a backend, if the file is unreadable
        runs = torch_runs(model, args.quick)
        backends, skipped = runtime_runs(checkpoint, tmp)
        runs.update(backends)
        results = {name: timed(run, x, calls) for name, run in runs.items()}
    text = report(results, skipped, calls)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_bench.md").write_text(text + "\n")
    print(text)
    return 0


def report(results: dict[str, tuple[list[float], np.ndarray]], skipped: list[str], calls: int) -> str:
    reference = next(iter(results.values()))[1]
    flops = gflops("enet_sad", H, W)[1]
    props = torch.cuda.get_device_properties(0)
    rows = [
        "| variant | median ms | fastest ms | frames/s | max abs prob diff | mean abs prob diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (times, prob) in results.items():
        med = statistics.median(times)
        diff = np.abs(prob - reference)
        rows.append(
            f"| {name} | {med:.2f} | {min(times):.2f} | {1e3 / med:.0f} | {diff.max():.2g} | {diff.mean():.2g} |"
        )
    return "\n".join(
        [
            f"ENet-SAD at {H}x{W}, batch 1, {flops:.2f} GFLOPs, on {props.name} "
            f"({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}, CUDA {torch.version.cuda}; "
            f"median of {calls} synchronised calls, NumPy in and out (copies to and from the GPU included); "
            "differences against the first row. Written by `bench/bench_gpu.py`.",
            "",
            *rows,
            "",
            *(f"- not measured: {reason}" for reason in skipped),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
