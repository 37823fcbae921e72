"""``lane-sad infer``: images or videos to lane overlays and lane JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from lane_sad_core.cli.decoding import add_decoding_args, postprocess_from_args
from lane_sad_core.infer.backends import BACKENDS

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "infer",
        help="detect lanes in images or videos; write overlays and lane JSON",
        description="Writes <out>/<name>.png (lanes drawn) and <name>.json (lanes in source "
        "pixels) per image, and <name>.mp4 plus <name>.jsonl per video. Folders are searched "
        "for images.",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="images, videos or folders")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument(
        "--backend",
        default="torch",
        choices=BACKENDS,
        help="what runs the network; torch-compile(-bf16) compiles the checkpoint at start "
        "(about a minute the first time, cached) and runs ~2x faster on a CPU; onnxruntime, openvino "
        "(bfloat16 where the CPU has it; openvino-f32: float32) and tensorrt run the .onnx/.engine "
        "beside the checkpoint (or given as --checkpoint); all fall back to "
        "torch with a warning",
    )
    p.add_argument(
        "--attention",
        action="store_true",
        help="also write the distilled blocks' attention blended over each image (torch backend)",
    )
    add_decoding_args(p, "off: a lane ends where its evidence ends")
    p.add_argument(
        "--temporal",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="videos: smooth lanes from frame to frame (a lane moving further than 4%% of the width "
        "restarts; a lane gone for up to 2 frames is held); images are always decoded on their own",
    )
    p.set_defaults(func=run)


def lanes_json(det) -> dict:
    """A detection as plain JSON: lanes in source pixels and the timings."""
    return {
        "lanes": [
            {
                "slot": lane.slot,
                "existence": round(float(lane.existence), 4),
                "points": [[round(float(x), 2), round(float(y), 2)] for x, y in lane.points],
                "confidence": [round(float(c), 4) for c in lane.confidence],
            }
            for lane in det.lanes
        ],
        "timings_ms": {k: round(v, 3) for k, v in det.timings.items()},
    }


def expand_inputs(inputs: list[Path]) -> Iterator[Path]:
    """Files as given; folders expanded to their images (sorted)."""
    from lane_sad_core.errors import LaneSadError

    for path in inputs:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise LaneSadError(f"input {path} does not exist")


def render(detector, image, det, attention: bool) -> dict:
    """Output images by file-name suffix: the lane overlay, and the attention overlay if asked."""
    import numpy as np

    from lane_sad_core.infer.overlay import blend_attention, draw_lanes

    out = {"": draw_lanes(image, det.lanes)}
    if attention:
        heat = np.mean(list(det.attention.values()), axis=0)
        out["_attention"] = blend_attention(image, heat, detector.preprocess)
    return out


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from lane_sad_core.errors import LaneSadError
    from lane_sad_core.infer.detector import LaneDetector
    from lane_sad_core.infer.temporal import TemporalConfig

    detector = LaneDetector(
        args.checkpoint,
        args.device,
        postprocess_from_args(args),
        backend=args.backend,
        temporal=TemporalConfig() if args.temporal else None,
    )
    if args.attention and detector.model is None:
        raise LaneSadError(
            f"--attention needs the torch backend; {detector.backend_name} models carry only the lane outputs"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(list(expand_inputs(args.inputs)), desc="infer", unit="file"):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            _video(path, args, detector)
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise LaneSadError(f"cannot read image {path}")
        det = detector.detect(image, with_attention=args.attention)
        for suffix, drawn in render(detector, image, det, args.attention).items():
            cv2.imwrite(str(args.out / f"{path.stem}{suffix}.png"), drawn)
        (args.out / f"{path.stem}.json").write_text(json.dumps({"image": str(path), **lanes_json(det)}))
    print(f"infer: results in {args.out}")
    return 0


def _video(path: Path, args: argparse.Namespace, detector) -> None:
    import cv2
    from tqdm import tqdm

    from lane_sad_core.errors import LaneSadError

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise LaneSadError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    detector.reset_tracking()  # a new video: no lanes carried over from the last one
    writers: dict[str, cv2.VideoWriter] = {}
    bar = tqdm(total=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None, desc=path.name, unit="frame", leave=False)
    try:
        with (args.out / f"{path.stem}.jsonl").open("w") as jsonl:
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                det = detector.detect(frame, with_attention=args.attention, stamp=index / fps)
                jsonl.write(json.dumps({"frame": index, **lanes_json(det)}) + "\n")
                for suffix, drawn in render(detector, frame, det, args.attention).items():
                    if suffix not in writers:
                        h, w = drawn.shape[:2]
                        writers[suffix] = cv2.VideoWriter(
                            str(args.out / f"{path.stem}{suffix}.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h)
                        )
                    writers[suffix].write(drawn)
                index += 1
                bar.update(1)
    finally:
        bar.close()
        cap.release()
        for writer in writers.values():
            writer.release()
