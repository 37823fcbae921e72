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
        "for images, and their results mirror the folder's tree under <out> (DIR/a/1.jpg -> "
        "<out>/a/1.png); two inputs that would write the same file are an error before anything runs.",
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


def expand_inputs(inputs: list[Path]) -> Iterator[tuple[Path, Path]]:
    """``(file, result name)`` per input file: a file as given keeps its stem; a folder's images
    (sorted) keep their path inside the folder, so frames of different clips sharing a name
    (CULane's ``<clip>.MP4/00000.jpg``) get different results."""
    from lane_sad_core.errors import LaneSadError

    for path in inputs:
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            yield from ((p, p.relative_to(path).with_suffix("")) for p in images)
        elif path.is_file():
            yield path, Path(path.stem)
        else:
            raise LaneSadError(f"input {path} does not exist")


def result_names(path: Path, name: Path, attention: bool) -> list[Path]:
    """The files (relative to ``--out``) that ``path`` writes."""
    kinds = [".mp4", ".jsonl"] if path.suffix.lower() in VIDEO_SUFFIXES else [".png", ".json"]
    if attention:
        kinds.append(f"_attention{kinds[0]}")
    return [name.with_name(name.name + kind) for kind in kinds]


def plan_outputs(inputs: list[Path], attention: bool) -> list[tuple[Path, Path]]:
    """Every input file with its result name, checked so that no two inputs write the same file.

    Raises:
        LaneSadError: an input does not exist, or two inputs would write the same result
            (both named): results are never overwritten within a run.
    """
    from lane_sad_core.errors import LaneSadError

    plan = list(expand_inputs(inputs))
    writers: dict[Path, Path] = {}
    for path, name in plan:
        for result in result_names(path, name, attention):
            other = writers.setdefault(result, path)
            if other != path:
                raise LaneSadError(
                    f"{other} and {path} would both write {result}; give them as separate runs or rename one"
                )
    return plan


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

    if args.out.exists() and not args.out.is_dir():
        raise LaneSadError(f"--out {args.out} is a file; give a folder for the results")
    plan = plan_outputs(args.inputs, args.attention)
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
    for path, name in tqdm(plan, desc="infer", unit="file"):
        target = args.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            _video(path, target, args, detector)
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise LaneSadError(f"cannot read image {path}")
        det = detector.detect(image, with_attention=args.attention)
        for suffix, drawn in render(detector, image, det, args.attention).items():
            _write_image(target.with_name(f"{target.name}{suffix}.png"), drawn)
        target.with_name(f"{target.name}.json").write_text(json.dumps({"image": str(path), **lanes_json(det)}))
    print(f"infer: {len(plan)} results in {args.out}")
    return 0


def _write_image(path: Path, image) -> None:
    """``cv2.imwrite``, which reports a failed write only by returning False."""
    import cv2

    from lane_sad_core.errors import LaneSadError

    if not cv2.imwrite(str(path), image):
        raise LaneSadError(f"cannot write {path}")


def _video(path: Path, target: Path, args: argparse.Namespace, detector) -> None:
    """Every frame of a video to ``<target>.jsonl`` and ``<target>.mp4``; a video that ends
    before the frame count its header promises is reported (the frames read are kept)."""
    import cv2
    from tqdm import tqdm

    from lane_sad_core.cli import warn
    from lane_sad_core.errors import LaneSadError

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise LaneSadError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    expected = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    detector.reset_tracking()  # a new video: no lanes carried over from the last one
    writers: dict[str, cv2.VideoWriter] = {}
    bar = tqdm(total=expected or None, desc=path.name, unit="frame", leave=False)
    index = 0
    try:
        with target.with_name(f"{target.name}.jsonl").open("w") as jsonl:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                det = detector.detect(frame, with_attention=args.attention, stamp=index / fps)
                jsonl.write(json.dumps({"frame": index, **lanes_json(det)}) + "\n")
                for suffix, drawn in render(detector, frame, det, args.attention).items():
                    if suffix not in writers:
                        h, w = drawn.shape[:2]
                        out = target.with_name(f"{target.name}{suffix}.mp4")
                        writers[suffix] = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
                    writers[suffix].write(drawn)
                index += 1
                bar.update(1)
    finally:
        bar.close()
        cap.release()
        for writer in writers.values():
            writer.release()
    if index < expected:
        warn("infer", f"{path}: read {index} of the {expected} frames its header announces (damaged or cut short)")
