"""Where ENet-SAD's milliseconds go at 288x800, layer by layer, in the fast CPU backends.

Run from the repository root::

    PYTHONPATH=. python bench/bench_profile.py --out bench/results    # writes profile.md

Three profilers, one model (the settled ENet-SAD of ``bench_backends.py``, same seed) and one
exported ONNX file:

- OpenVINO's per-layer performance counters (``PERF_COUNT``) for the ``openvino`` backend as
  it runs (bfloat16 where the CPU has it): per layer kind, per ENet block, the slowest layers
  and the kernels oneDNN chose. Each convolution's FLOPs come from the ONNX graph, so every
  row also says how far it is from the bfloat16 matmul peak: a layer far below the peak
  is limited by memory, not arithmetic.
- ``torch.profiler`` for ``torch-compile-bf16`` (inductor's fused kernels and oneDNN calls)
  and eager torch (``--no-compile`` skips the compiled one; compiling takes minutes).
- ONNX Runtime's profiler (per node kind, with its NCHWc layout reorders).

Then the options the profile suggests, timed side by side in interleaved rounds: the
backend's PReLU-slope rewrite on and off, float32, the throughput hint, CPU pinning off,
one thread, sharing the outputs instead of copying them, and smaller inputs (cropping the
sky: ``PreprocessConfig.crop_top`` with a lower ``height``, a model trained at that size).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import openvino
import torch

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.export.onnx import INPUT_NAME, ProbabilityModel, export_onnx
from lane_sad_core.infer.openvino_backend import OpenVINOBackend
from lane_sad_core.models import build_model
from lane_sad_core.models.checkpoint import load_model, model_payload, save_checkpoint
from lane_sad_core.models.cost import gflops, settled

H, W = 288, 800
REPO = Path(__file__).resolve().parents[1]
BLOCKS = ("initial", "down1", "e1", "down2", "e2", "e3", "e4", "up1", "d1", "up2", "d2", "full_conv", "exist")
SIZES = (
    (288, 800, "the paper's input"),
    (208, 800, "sky cropped: the top 28 % of a CULane frame"),
    (144, 400, "the shipped model's"),
)


@dataclass
class Layer:
    """One executed layer of one profiler, averaged per frame."""

    name: str
    kind: str
    block: str
    ms: float
    kernel: str = ""
    gflop: float = 0.0


# --- the ONNX graph: what each layer is and what it computes --------------------------------
def onnx_layers(path: Path) -> dict[str, tuple[str, float]]:
    """ONNX node name -> (layer kind, GFLOPs) for the network in ``path``.

    Kinds tell the convolutions apart by shape (1x1, 3x3, dilated, asymmetric, strided,
    transposed), as they run at very different efficiencies.
    """
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*model.graph.value_info, *model.graph.output, *model.graph.input)
    }
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        kind = _kind(node.op_type, attrs)
        flops = 0.0
        if node.op_type in ("Conv", "ConvTranspose", "Gemm") and node.input[1] in weights:
            w = weights[node.input[1]]
            spatial = shapes.get(node.output[0] if node.op_type == "Conv" else node.input[0], [])
            flops = 2.0 * float(np.prod(w)) * float(np.prod(spatial[2:] or [1]))
        out[node.name] = (kind, flops / 1e9)
    return out


def _kind(op: str, attrs: dict) -> str:
    if op == "Conv":
        kh, kw = attrs.get("kernel_shape", [1, 1])
        dilation, stride = max(attrs.get("dilations", [1, 1])), max(attrs.get("strides", [1, 1]))
        if kh != kw:
            return f"conv {kh}x{kw} (asymmetric)"
        if stride > 1:
            return f"conv {kh}x{kw} stride {stride}"
        return f"conv {kh}x{kw}" + (f" dilated {dilation}" if dilation > 1 else "")
    if op == "ConvTranspose":
        return "transposed conv 2x2 (upsampling)"
    if op in ("MaxPool", "Resize", "Equal", "Mul", "Cast"):
        return "max-pool, unpooling mask and nearest upsampling"
    return {"PRelu": "PReLU", "Relu": "ReLU", "Add": "residual sum", "Gemm": "existence FC"}.get(op, op)


def block_of(name: str) -> str:
    """The ENet block a layer belongs to, from the ``/model/<block>/`` part of its name."""
    match = re.search(r"/model/([a-z_]+[0-9]*)", name)
    block = match.group(1) if match else "output"
    return "exist" if block.startswith("exist") else block


# --- OpenVINO ------------------------------------------------------------------------------
def openvino_layers(path: Path, onnx_info: dict[str, tuple[str, float]], frames: int) -> list[Layer]:
    """The ``openvino`` backend's per-layer counters, averaged over ``frames`` frames."""
    backend = OpenVINOBackend(path, "cpu", properties={"PERF_COUNT": True})
    x = np.random.default_rng(0).normal(size=(1, 3, H, W)).astype(np.float32)
    backend.run(x)
    totals: dict[str, Layer] = {}
    for _ in range(frames):
        backend.run(x)
        for info in backend.request.profiling_info:
            if info.status != info.Status.EXECUTED:
                continue
            layer = totals.get(info.node_name) or _openvino_layer(info, onnx_info)
            layer.ms += info.real_time.total_seconds() * 1e3 / frames
            totals[info.node_name] = layer
    return list(totals.values())


def _openvino_layer(info, onnx_info: dict[str, tuple[str, float]]) -> Layer:
    source = info.node_name.removesuffix("/WithoutBiases")
    kind, gflop = onnx_info.get(source, (info.node_type, 0.0))
    if info.node_type == "Reorder":
        kind = "layout reorder"
    elif info.node_type == "Subgraph":
        kind = "fused elementwise (snippets)"
    elif source not in onnx_info:
        kind = {"ConvolutionBackpropData": "transposed conv 2x2 (upsampling)"}.get(info.node_type, info.node_type)
    return Layer(info.node_name, kind, block_of(info.node_name), 0.0, info.exec_type, gflop)


# --- torch.profiler ------------------------------------------------------------------------
def torch_events(run: Callable[[], object], frames: int, top: int = 15) -> tuple[float, list[tuple[str, float, int]]]:
    """(profiled ms per frame, [(event, self CPU ms per frame, calls per frame)]) of the busiest events."""
    from torch.profiler import ProfilerActivity, profile

    run()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(frames):
            run()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    events.sort(key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events) / 1e3 / frames
    return total, [(e.key, e.self_cpu_time_total / 1e3 / frames, round(e.count / frames)) for e in events[:top]]


# --- ONNX Runtime profiling ----------------------------------------------------------------
def onnxruntime_kinds(path: Path, onnx_info: dict[str, tuple[str, float]], frames: int, tmp: Path) -> list[Layer]:
    """ONNX Runtime's per-node times (its own profiler), as Layers, averaged over ``frames``."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp / "ort_profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {INPUT_NAME: np.random.default_rng(0).normal(size=(1, 3, H, W)).astype(np.float32)}
    session.run(None, feed)  # the first run's times are dropped below
    for _ in range(frames):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("name") == "model_run"]
    start = runs[0]["ts"] + runs[0]["dur"] if runs else 0
    layers: dict[str, Layer] = {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < start:
            continue
        name, op = e["name"].removesuffix("_kernel_time"), e["args"].get("op_name", "")
        kind, gflop = onnx_info.get(name, ("", 0.0))
        if op in ("ReorderInput", "ReorderOutput"):
            kind = "layout reorder"
        layer = layers.setdefault(name, Layer(name, kind or op, block_of(name), 0.0, op, gflop))
        layer.ms += e["dur"] / 1e3 / frames
    return list(layers.values())


# --- options, timed side by side -----------------------------------------------------------
def timed_options(path: Path, frames: int, rounds: int, sizes: dict[str, Path]) -> dict[str, list[float]]:
    """Median ms per option, interleaved round by round (a slow spell hits all of them)."""
    x = np.random.default_rng(0).normal(size=(1, 3, H, W)).astype(np.float32)
    options: dict[str, tuple[OpenVINOBackend, np.ndarray]] = {
        "`openvino` backend as shipped (latency hint, default threads)": (OpenVINOBackend(path), x),
        "float32 (`openvino-f32`)": (OpenVINOBackend(path, precision="f32"), x),
        "throughput hint (streams)": (OpenVINOBackend(path, performance_hint="THROUGHPUT"), x),
        "CPU pinning off": (OpenVINOBackend(path, properties={"ENABLE_CPU_PINNING": False}), x),
        "one thread": (OpenVINOBackend(path, threads=1), x),
    }
    for label, onnx_path in sizes.items():
        backend = OpenVINOBackend(onnx_path)
        size = backend.compiled.input(INPUT_NAME).get_shape()
        options[label] = (backend, np.zeros(tuple(size), np.float32))
    calls: dict[str, Callable[[], object]] = {name: (lambda b=b, v=v: b.run(v)) for name, (b, v) in options.items()}
    shipped = options["`openvino` backend as shipped (latency hint, default threads)"][0]
    calls["without the PReLU-slope rewrite (the ONNX file as exported)"] = without_slope_rewrite(path, x)
    calls["outputs shared, not copied (not safe for callers)"] = lambda: shipped.request.infer(
        {INPUT_NAME: x}, share_inputs=True, share_outputs=True
    )
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            call()
            for _ in range(frames):
                t0 = time.perf_counter()
                call()
                times[name].append(1e3 * (time.perf_counter() - t0))
    return times


def without_slope_rewrite(path: Path, x: np.ndarray) -> Callable[[], object]:
    """The file compiled as the backend compiles it, minus its PReLU-slope rewrite."""
    core = openvino.Core()
    precision = "bf16" if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f32"
    config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    request = core.compile_model(str(path), "CPU", config).create_infer_request()
    return lambda: request.infer({INPUT_NAME: x}, share_inputs=True)


# --- the report ----------------------------------------------------------------------------
def group(layers: list[Layer], key: Callable[[Layer], str]) -> list[tuple[str, float, int, float, set[str]]]:
    """(group, ms, layers, GFLOPs, kernels) per group, slowest first."""
    ms: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    flops: dict[str, float] = collections.defaultdict(float)
    kernels: dict[str, set[str]] = collections.defaultdict(set)
    for layer in layers:
        k = key(layer)
        ms[k] += layer.ms
        count[k] += 1
        flops[k] += layer.gflop
        kernels[k].add(layer.kernel)
    return sorted(((k, ms[k], count[k], flops[k], kernels[k]) for k in ms), key=lambda r: -r[1])


def kind_table(layers: list[Layer], peak: float | None, with_kernels: bool = True) -> list[str]:
    total = sum(layer.ms for layer in layers)
    rows = [
        "| layer kind | ms per frame | share | layers | GFLOPs | GFLOP/s | % of peak | floor ms |"
        + (" kernels |" if with_kernels else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if with_kernels else ""),
    ]
    for kind, ms, n, gf, kernels in group(layers, lambda layer: layer.kind):
        rate = gf / ms * 1e3 if gf and ms else 0.0
        share = f"{100 * rate / peak:.0f}%" if peak and rate else "—"
        floor = f"{gf / peak * 1e3:.2f}" if peak and gf else "—"
        rows.append(
            f"| {kind} | {ms:.2f} | {100 * ms / total:.0f}% | {n} | {gf:.2f} | {rate:.0f} | {share} | {floor} |"
            + (f" {', '.join(sorted(k for k in kernels if k))} |" if with_kernels else "")
        )
    rows.append(f"| **total** | **{total:.2f}** | 100% | {len(layers)} | | | | |")
    return rows


def block_table(layers: list[Layer], peak: float | None) -> list[str]:
    order = {b: i for i, b in enumerate(BLOCKS)}
    rows = [
        "| block | ms per frame | GFLOPs | GFLOP/s | % of peak | layout reorders ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    grouped = group(layers, lambda layer: layer.block)
    for block, ms, _, gf, _ in sorted(grouped, key=lambda r: order.get(r[0], len(order))):
        reorder = sum(layer.ms for layer in layers if layer.block == block and layer.kind == "layout reorder")
        rate = gf / ms * 1e3 if gf and ms else 0.0
        share = f"{100 * rate / peak:.0f}%" if peak and rate else "—"
        rows.append(f"| {block} | {ms:.2f} | {gf:.3f} | {rate:.0f} | {share} | {reorder:.2f} |")
    return rows


def top_table(layers: list[Layer], n: int = 12) -> list[str]:
    rows = ["| layer | kind | kernel | ms per frame |", "|---|---|---|---:|"]
    for layer in sorted(layers, key=lambda layer: -layer.ms)[:n]:
        rows.append(f"| `{layer.name[:90]}` | {layer.kind} | {layer.kernel} | {layer.ms:.2f} |")
    return rows


def event_table(total: float, events: list[tuple[str, float, int]]) -> list[str]:
    rows = ["| event | self CPU ms per frame | share | calls per frame |", "|---|---:|---:|---:|"]
    for name, ms, calls in events:
        rows.append(f"| `{name[:80]}` | {ms:.2f} | {100 * ms / total:.0f}% | {calls} |")
    rows.append(f"| **all events** | **{total:.2f}** | | |")
    return rows


def options_table(times: dict[str, list[float]]) -> list[str]:
    base = statistics.median(next(iter(times.values())))
    rows = ["| option | median ms | fastest ms | vs as shipped |", "|---|---:|---:|---:|"]
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(f"| {name} | {med:.1f} | {min(ts):.1f} | {base / med:.2f}x |")
    return rows


def bf16_peak(threads: int) -> float | None:
    """Best 2048x2048 bfloat16 matmul rate, GFLOP/s (None without native bfloat16)."""
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048, dtype=torch.bfloat16), torch.randn(2048, 2048, dtype=torch.bfloat16)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048**3 / best / 1e9


def export_at(tmp: Path, height: int, width: int) -> tuple[Path, Path, torch.nn.Module]:
    """A settled ENet-SAD at ``height`` x ``width``: its checkpoint, its ONNX export and the model."""
    torch.manual_seed(0)
    model = settled(build_model("enet_sad", input_height=height, input_width=width), (height, width))
    checkpoint = save_checkpoint(
        tmp / f"enet_{height}x{width}.pt", model_payload(model, PreprocessConfig(width=width, height=height))
    )
    _, meta = load_model(checkpoint)
    return checkpoint, export_onnx(model, meta, checkpoint.with_suffix(".onnx")).path, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--frames", type=int, default=20, help="profiled frames per profiler")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the options")
    parser.add_argument("--no-compile", action="store_true", help="skip torch-compile-bf16 (minutes to compile)")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    threads = torch.get_num_threads()
    peak = bf16_peak(threads)
    flops = gflops("enet_sad", H, W)[1]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        checkpoint, path, model = export_at(tmp, H, W)
        sizes = {f"{h}x{w} input ({why})": export_at(tmp, h, w)[1] for h, w, why in SIZES[1:]}
        info = onnx_layers(path)
        print("OpenVINO counters ...", file=sys.stderr)
        ov_layers = openvino_layers(path, info, args.frames)
        print("ONNX Runtime profiler ...", file=sys.stderr)
        ort_layers = onnxruntime_kinds(path, info, args.frames, tmp)
        print("torch.profiler ...", file=sys.stderr)
        x = torch.randn(1, 3, H, W)
        eager = ProbabilityModel(model).eval()
        with torch.inference_mode():
            torch_profiles = {"eager torch": torch_events(lambda: eager(x), args.frames)}
        if not args.no_compile:
            from lane_sad_core.infer.torch_backend import CompiledTorchBackend

            compiled = CompiledTorchBackend.load(checkpoint, "cpu", bf16=peak is not None)
            torch_profiles[compiled.name] = torch_events(lambda: compiled.run(x.numpy()), args.frames)
        print("options ...", file=sys.stderr)
        times = timed_options(path, 3, args.rounds, sizes)
    load_end = os.getloadavg()
    text = report(args, ov_layers, ort_layers, torch_profiles, times, peak, flops, (load_start, load_end))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.md").write_text(text)
    print(text)
    return 0


def report(args, ov_layers, ort_layers, torch_profiles, times, peak, flops, loads) -> str:
    (l1, l5, l15), end = loads[0], loads[1][0]
    ov_total = sum(layer.ms for layer in ov_layers)
    reorders = [layer for layer in ov_layers if layer.kind == "layout reorder"]
    convs = [layer for layer in ov_layers if layer.gflop]
    conv_ms, conv_gf = sum(layer.ms for layer in convs), sum(layer.gflop for layer in convs)
    floor = flops / peak * 1e3 if peak else None
    shipped = statistics.median(next(iter(times.values())))
    lines = [
        "# Where ENet-SAD's time goes at 288x800 (batch 1, CPU), layer by layer",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, openvino "
        f"{openvino.__version__.split('-')[0]}, onnxruntime {ort.__version__}. **Load average "
        f"{l1:.1f}/{l5:.1f}/{l15:.1f} (1/5/15 min) at the start, {end:.1f} at the end**"
        + (": other jobs held the cores; absolute times are pessimistic, shares less so." if max(l1, end) > 1 else ".")
        + f" {args.frames} profiled frames per profiler, {args.rounds} interleaved rounds of the options. "
        "Written by `bench/bench_profile.py`; the backends side by side are in `backends.md`.",
        "",
        "## The distance to the floor",
        "",
        f"- ENet-SAD at 288x800 is {flops:.2f} GFLOPs. "
        + (
            f"At this machine's bfloat16 matmul peak ({peak:.0f} GFLOP/s, {torch.get_num_threads()} threads) that is "
            f"**{floor:.1f} ms**; the `openvino` backend as shipped takes **{shipped:.1f} ms** "
            f"({shipped / floor:.1f}x the floor; target <= 18 ms: "
            f"{'reached' if shipped <= 18 else 'not reached'})."
            if peak and floor
            else "This CPU has no native bfloat16: no bfloat16 floor."
        ),
        f"- In OpenVINO's counters ({ov_total:.1f} ms of layers per frame) the convolutions take "
        f"{conv_ms:.1f} ms for {conv_gf:.2f} GFLOPs"
        + (
            f" ({conv_gf / conv_ms * 1e3:.0f} GFLOP/s, {100 * conv_gf / conv_ms * 1e3 / peak:.0f}% of peak)"
            if peak and conv_ms
            else ""
        )
        + f"; everything else, {ov_total - conv_ms:.1f} ms, does no matrix arithmetic at all: it moves "
        f"memory (layout reorders: {sum(r.ms for r in reorders):.1f} ms in {len(reorders)} reorders; pooling, "
        "unpooling masks, upsampling, concatenation, softmax).",
        "- A convolution of ENet-SAD has 16-128 channels (a 1x1 from 128 down to 32 channels, a 3x3 on 32): "
        "per output pixel 0.5-18 kFLOPs on 64-256 bytes of bfloat16 activations, and a layer at 1/8 "
        "resolution has only 3,600 output pixels. That is too little work per layer to keep the AMX units "
        "busy: fixed per-layer costs (dispatch, threads meeting) and memory traffic weigh as much as the "
        "arithmetic. The `% of peak` column shows it kind by kind.",
        "",
        "## OpenVINO (`openvino` backend), per-layer counters",
        "",
        "By layer kind (a convolution's time includes what OpenVINO fused into it: bias, BatchNorm, "
        "PReLU/ReLU, residual sum). GFLOP/s and `% of peak` are against the bfloat16 matmul peak; "
        "`floor ms` is the kind's FLOPs at that peak.",
        "",
        *kind_table(ov_layers, peak),
        "",
        "By ENet block:",
        "",
        *block_table(ov_layers, peak),
        "",
        "The slowest single layers:",
        "",
        *top_table(ov_layers),
        "",
        "## Options the profile suggests, timed side by side (OpenVINO, ms per frame incl. the output copy)",
        "",
        *options_table(times),
        "",
        "## ONNX Runtime (`onnxruntime` backend), its profiler",
        "",
        *kind_table(ort_layers, None, with_kernels=False),
        "",
    ]
    for name, (total, events) in torch_profiles.items():
        lines += [
            f"## `{name}`, torch.profiler (self CPU time of the busiest events)",
            "",
            *event_table(total, events),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
