"""Backends side by side on this CPU: ENet-SAD at 288x800, batch 1, in one run.

Run from the repository root::

    PYTHONPATH=. python bench/bench_backends.py --out bench/results

Writes ``<out>/backends.md`` and prints it. Every variant computes the same function, the
network plus softmax and sigmoid (:class:`lane_sad_core.export.onnx.ProbabilityModel`),
on the same input. Variants run interleaved, round after round (one untimed call, then
``--calls`` timed calls each), so a slow spell of a shared machine hits all of them; the
speed-up of a variant is the median over rounds of eager's median / the variant's median
in that round. Also measured: ``LaneDetector.detect`` per backend on a real frame
(preprocessing + network + post-processing), the model's FLOPs, and this machine's float32
matmul rate as the compute limit.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.export.onnx import ProbabilityModel, export_onnx
from lane_sad_core.infer import LaneDetector
from lane_sad_core.models import build_model
from lane_sad_core.train.checkpoint import load_model, model_payload, save_checkpoint

H, W = 288, 800
REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
CULANE_FRAME = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030819_0755.MP4/00000.jpg"
TARGET_SPEEDUP, TARGET_FPS = 2.0, 30.0


@dataclass
class Variant:
    """One way of running the network, and its timings (ms) per round."""

    name: str
    how: str
    run: Callable[[], object]
    threads: int | None = None  # torch.set_num_threads before each call (torch variants)
    setup_s: float = 0.0
    rounds: list[list[float]] = field(default_factory=list)

    def call(self) -> float:
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        t0 = time.perf_counter()
        self.run()
        return 1e3 * (time.perf_counter() - t0)

    @property
    def all_ms(self) -> list[float]:
        return [t for r in self.rounds for t in r]


def settled_model() -> torch.nn.Module:
    """ENet-SAD whose BatchNorm statistics come from a few passes (O(1) activations, as trained)."""
    torch.manual_seed(0)
    model = build_model("enet_sad").train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(1, 3, H, W))
    return model.eval()


def gflops(model: torch.nn.Module) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, H, W))
    return counter.get_total_flops() / 1e9


def matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n matmul with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def torch_variants(model: torch.nn.Module, x: torch.Tensor, threads: int, compile_: bool) -> list[Variant]:
    """Eager (default and one thread), channels-last, TorchScript frozen, torch.compile.

    Each variant but torch.compile runs with the default threads and with one: on a loaded
    machine one thread can win, since two threads wait for each other at every operator.
    Inductor fixes its thread count when it compiles, so torch.compile runs once.
    """
    head = ProbabilityModel(model).eval()
    cl_head = ProbabilityModel(build_model("enet_sad")).eval()
    cl_head.load_state_dict(head.state_dict())
    cl_head.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(head, x, check_trace=False)))
        traced(x)
    traced_s = time.perf_counter() - t0
    kinds = [("torch eager", "NCHW, inference_mode", lambda: head(x), 0.0),
             ("torch channels_last", "NHWC weights and input", lambda: cl_head(x_cl), 0.0),
             ("torch.jit trace+freeze", "optimize_for_inference (BN folded, oneDNN)", lambda: traced(x), traced_s)]
    variants = [Variant(f"{name}, {n} thread{'s' * (n > 1)}", how, run, n, setup)
                for name, how, run, setup in kinds for n in sorted({threads, 1}, reverse=True)]
    if compile_:
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        compiled = torch.compile(head)
        compiled(x)
        variants.append(Variant(f"torch.compile, {threads} threads", "default mode, inductor C++",
                                lambda: compiled(x), threads, time.perf_counter() - t0))
    return variants


def ort_variant(path: Path, opset: int, threads: int, x: np.ndarray) -> tuple[Variant, tuple[int, int, int]]:
    """An ONNX Runtime session (ENABLE_ALL) and its optimised graph's nodes, layout reorders, PReLUs."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    optimised = path.with_name(f"{path.stem}.t{threads}.opt.onnx")
    options.optimized_model_filepath = str(optimised)
    t0 = time.perf_counter()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    setup = time.perf_counter() - t0
    ops = collections.Counter(n.op_type for n in onnx.load(str(optimised), load_external_data=False).graph.node)
    nodes = (sum(ops.values()), ops["ReorderInput"] + ops["ReorderOutput"], ops["PRelu"])
    feed = {"image": x}
    return Variant(f"onnxruntime opset {opset}, {threads} thread{'s' * (threads > 1)}",
                   "graph optimisation ALL", lambda: session.run(None, feed), None, setup), nodes


def interleave(variants: list[Variant], rounds: int, calls: int) -> None:
    for _ in tqdm(range(rounds), desc="rounds", file=sys.stderr):
        for v in variants:
            v.call()  # untimed: absorbs what the previous variant left behind (caches, spinning threads)
            v.rounds.append([v.call() for _ in range(calls)])


def speedup(base: Variant, v: Variant) -> float:
    return statistics.median(statistics.median(b) / statistics.median(t) for b, t in zip(base.rounds, v.rounds))


def detect_timings(checkpoint: Path, frame: np.ndarray, repeats: int, threads: int) -> dict[str, dict[str, float]]:
    """Median LaneDetector.detect stages per backend, interleaved frame by frame."""
    detectors = {name: LaneDetector(checkpoint, "cpu", backend=name) for name in ("torch", "onnxruntime")}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in detectors}
    for _ in tqdm(range(repeats + 1), desc="detect", file=sys.stderr):
        for name, det in detectors.items():
            torch.set_num_threads(threads)
            det.detect(frame)  # untimed, as in interleave()
            t0 = time.perf_counter()
            timings = det.detect(frame).timings
            runs[name].append({**timings, "total": 1e3 * (time.perf_counter() - t0)})
    return {name: {k: statistics.median(r[k] for r in rs[1:]) for k in rs[0]} for name, rs in runs.items()}


def read_frame() -> tuple[np.ndarray, str]:
    path = REAL_DATA / CULANE_FRAME
    frame = cv2.imread(str(path)) if path.is_file() else None
    if frame is None:
        return np.random.default_rng(0).integers(0, 255, (590, 1640, 3), dtype=np.uint8), "noise 1640x590"
    return frame, "real CULane frame 1640x590"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=2, help="timed calls per variant per round")
    parser.add_argument("--opsets", type=int, nargs="+", default=[17, 13, 20])
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (minutes when uncached)")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    load_start = os.getloadavg()

    model = settled_model()
    flops = gflops(model)
    peaks = {t: matmul_peak(t) for t in sorted({1, threads})}
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        pre = PreprocessConfig(width=W, height=H)
        checkpoint = save_checkpoint(Path(tmp) / "enet.pt", model_payload(model, pre))
        _, meta = load_model(checkpoint)
        print("exporting ONNX ...", file=sys.stderr)
        exports = {opset: export_onnx(model, meta, Path(tmp) / f"enet.opset{opset}.onnx", opset=opset)
                   for opset in args.opsets}
        export_onnx(model, meta, checkpoint.with_suffix(".onnx"))  # the detector's sibling file
        print("preparing torch variants ...", file=sys.stderr)
        with torch.inference_mode():
            variants = torch_variants(model, x, threads, not args.no_compile)
            nodes = {}
            for opset, result in exports.items():
                for t in ([threads, 1] if opset == args.opsets[0] else [threads]):
                    v, nodes[(opset, t)] = ort_variant(result.path, opset, t, x.numpy())
                    variants.append(v)
            interleave(variants, args.rounds, args.calls)
        frame, source = read_frame()
        detect = detect_timings(checkpoint, frame, args.rounds * args.calls, threads)
    load_end = os.getloadavg()
    peaks = {t: max(p, matmul_peak(t)) for t, p in peaks.items()}  # the better of start and end

    text = report(args, variants, nodes, flops, peaks, threads, detect, source, load_start, load_end)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backends.md").write_text(text)
    print(text)
    return 0


def report(args, variants: list[Variant], nodes: dict, flops: float, peaks: dict[int, float], threads: int,
           detect: dict[str, dict[str, float]], source: str, load_start, load_end) -> str:
    base = variants[0]
    peak = max(peaks.values())
    one = next((v for v in variants if v.name == "torch eager, 1 thread"), base)
    rows = ["| variant | how | median ms | fastest ms | frames/s | vs eager default threads | vs eager 1 thread | "
            "GFLOP/s | % of matmul peak | set-up s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for v in variants:
        med = statistics.median(v.all_ms)
        rows.append(f"| {v.name} | {v.how} | {med:.1f} | {min(v.all_ms):.1f} | {1e3 / med:.1f} | "
                    f"{speedup(base, v):.2f}x | {speedup(one, v):.2f}x | {flops / med * 1e3:.0f} | "
                    f"{100 * flops / med * 1e3 / peak:.0f}% | {v.setup_s:.1f} |")
    best = min(variants, key=lambda v: statistics.median(v.all_ms))
    best_ms = statistics.median(best.all_ms)
    best_ratio = speedup(base, best)
    reached = best_ratio >= TARGET_SPEEDUP and 1e3 / best_ms >= TARGET_FPS
    fastest_fps = 1e3 / min(best.all_ms)
    node_rows = "; ".join(f"opset {o}: {n} nodes, of which {r} NCHWc layout reorders and {p} PRelu"
                          for (o, t), (n, r, p) in nodes.items() if t == threads)
    _, reorders, prelus = next(iter(nodes.values()))
    best_eff = 100 * flops / best_ms * 1e3 / peak
    need = flops * TARGET_FPS
    det_rows = ["| backend | preprocess | network (+ softmax) | postprocess | total | frames/s |",
                "|---|---:|---:|---:|---:|---:|"]
    for name, d in detect.items():
        det_rows.append(f"| {name} | {d['preprocess']:.1f} | {d['inference']:.1f} | {d['postprocess']:.2f} | "
                        f"{d['total']:.1f} | {1e3 / d['total']:.1f} |")
    det_rows.append("| tensorrt | not measurable here: no CUDA device, no TensorRT | | | | |")
    busy = max(load_start[0], load_end[0]) > 0.6 * (os.cpu_count() or 1)
    return "\n".join([
        "# Backends: ENet-SAD at 288x800, batch 1, CPU",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"onnxruntime {ort.__version__}; torch default threads {threads}. **1/5/15-min load average "
        f"{load_start[0]:.1f}/{load_start[1]:.1f}/{load_start[2]:.1f} at the start, {load_end[0]:.1f} at the end**"
        + (": other jobs held the cores, so every number here is pessimistic, two-thread variants most "
           "(their threads wait for each other whenever one is descheduled)." if busy else
           " (a quiet machine)."),
        f"{args.rounds} interleaved rounds x {args.calls} timed calls per variant; speed-up = median over rounds "
        "of eager's round median / the variant's. Written by `bench/bench_backends.py`.",
        "",
        "## Compute",
        "",
        f"- ENet-SAD at 288x800: **{flops:.2f} GFLOPs** per frame (`torch.utils.flop_counter`: convolutions "
        "and matrix products, 1 MAC = 2 FLOPs).",
        "- Measured float32 matmul peak (2048x2048 `torch.mm`, best of 5 at the start and 5 at the end): "
        + ", ".join(f"{p:.0f} GFLOP/s on {t} thread{'s' * (t > 1)}" for t, p in peaks.items())
        + f"; at {peak:.0f} GFLOP/s the network alone needs at least **{flops / peak * 1e3:.1f} ms** "
        f"({peak / flops:.0f} frames/s).",
        "",
        "## Network forward (network + softmax + sigmoid)",
        "",
        *rows,
        "",
        f"ONNX Runtime graph after optimisation (nodes): {node_rows}.",
        "",
        "## Whole `LaneDetector.detect` per backend (ms, medians)",
        "",
        f"On a {source}; same post-processing for all backends.",
        "",
        *det_rows,
        "",
        "## Target: best backend >= 2x eager torch and >= 30 frames/s",
        "",
        f"Best: **{best.name}**, median {best_ms:.1f} ms ({1e3 / best_ms:.1f} frames/s, fastest call "
        f"{fastest_fps:.1f} frames/s), {best_ratio:.2f}x eager with default threads and "
        f"{speedup(one, best):.2f}x eager on one thread, in the same run: target "
        f"**{'reached' if reached else 'not reached'}** on this machine.",
        "",
        "What limits it:",
        "",
        f"- Compute. 30 frames/s leaves 33 ms for {flops:.2f} GFLOPs: {need:.0f} GFLOP/s sustained, "
        f"{100 * need / peak:.0f}% of the matmul peak measured in this run; the best variant sustains "
        f"{flops / best_ms * 1e3:.0f} GFLOP/s ({best_eff:.0f}%). "
        + ("Even a network running at matmul efficiency could not reach 30 frames/s at 288x800 in float32 "
           "on this machine; " if need > peak else "")
        + "ENet-SAD's convolutions are thin (32-channel 3x3, dilated and 5x1/1x5 convolutions inside "
        "128-channel bottlenecks, 16-64 channels near full resolution), with little arithmetic per byte moved, "
        "so they run below matmul efficiency.",
        f"- Layout. ONNX Runtime's NCHWc convolutions fuse ReLU but not PReLU, and ENet has {prelus} PReLUs, so "
        f"the optimised graph converts layouts {reorders} times per frame.",
        *(["- Load. Two-thread runs are the ones other jobs hurt most; one thread wins on a busy machine "
            "and loses on an idle one."] if busy else []),
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
