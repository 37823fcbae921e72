"""``lane-sad export``: a checkpoint to a verified ONNX file or a TensorRT engine."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DYNAMIC_MAX_BATCH = 4


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX (verified against PyTorch) or a TensorRT engine",
        description="ONNX: input 'image' (B,3,H,W float32, preprocessed), outputs 'prob' (softmax "
        "probabilities) and 'exist' (sigmoid existence); the preprocessing and class names are "
        "stored in the file, and ONNX Runtime must match PyTorch within 1e-4 or nothing is "
        "written. TensorRT: builds an engine (FP16 by default) from the checkpoint's ONNX "
        "export, on the machine that will run it (e.g. the Jetson).",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="a .pt checkpoint; for --format tensorrt also an .onnx file exported before",
    )
    p.add_argument("--format", required=True, choices=("onnx", "tensorrt"))
    p.add_argument("--out", required=True, type=Path, help="file to write (.onnx / .engine)")
    p.add_argument("--dynamic-batch", action="store_true", help="free batch dimension (default: batch 1)")
    p.add_argument("--opset", type=int, help="ONNX opset (default 17: TensorRT 8.5+ and ONNX Runtime read it)")
    trt = p.add_argument_group("tensorrt")
    trt.add_argument("--fp32", action="store_true", help="no FP16 kernels (default: FP16 allowed)")
    trt.add_argument("--int8", action="store_true", help="INT8, calibrated on --calib-images")
    trt.add_argument("--calib-images", type=Path, help="folder of camera frames for INT8 calibration")
    trt.add_argument("--calib-count", type=int, default=500, help="at most this many calibration frames")
    trt.add_argument(
        "--max-batch", type=int, help=f"largest batch of a --dynamic-batch engine (default {DEFAULT_DYNAMIC_MAX_BATCH})"
    )
    trt.add_argument("--workspace-mib", type=int, default=1024, help="TensorRT build scratch memory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lane_sad_core.errors import LaneSadError

    if args.out.is_dir():
        example = args.out / ("model.onnx" if args.format == "onnx" else "model.engine")
        raise LaneSadError(f"--out {args.out} is a folder; give the file to write (e.g. {example})")
    if args.int8 and args.format != "tensorrt":
        raise LaneSadError("--int8 applies to --format tensorrt only")
    if args.int8 and args.calib_images is None:
        raise LaneSadError("--int8 needs --calib-images DIR (frames from the target camera)")
    if args.format == "onnx":
        _onnx(args.checkpoint, args.out, args)
    else:
        _tensorrt(args)
    return 0


def _onnx(checkpoint: Path, out: Path, args: argparse.Namespace) -> None:
    from lane_sad_core.export.onnx import DEFAULT_OPSET, export_checkpoint

    result = export_checkpoint(checkpoint, out, dynamic_batch=args.dynamic_batch, opset=args.opset or DEFAULT_OPSET)
    batch = "dynamic batch" if result.dynamic_batch else "batch 1"
    print(
        f"export: wrote {result.path} (opset {result.opset}, {batch}); ONNX Runtime vs PyTorch: "
        f"max |prob diff| {result.prob_max_diff:.2g}, max |exist diff| {result.exist_max_diff:.2g}"
    )


def _tensorrt(args: argparse.Namespace) -> None:
    from lane_sad_core.export.tensorrt import build_engine, import_tensorrt

    import_tensorrt()  # fail in one line before spending time on the ONNX export
    onnx_path = args.checkpoint
    if args.checkpoint.suffix.lower() != ".onnx":
        onnx_path = args.out.with_suffix(".onnx")
        _onnx(args.checkpoint, onnx_path, args)
    max_batch = args.max_batch or (DEFAULT_DYNAMIC_MAX_BATCH if args.dynamic_batch else 1)
    engine = build_engine(
        onnx_path,
        args.out,
        fp16=not args.fp32,
        int8=args.int8,
        calib_images=args.calib_images,
        calib_count=args.calib_count,
        max_batch=max_batch,
        workspace_mib=args.workspace_mib,
    )
    precision = "INT8" if args.int8 else "FP32" if args.fp32 else "FP16"
    print(f"export: wrote {engine} ({precision}) and {engine.name}.json from {onnx_path}")
