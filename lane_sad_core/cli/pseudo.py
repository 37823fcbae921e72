"""``lane-sad pseudo-label``: unlabelled frames and videos to a CULane tree labelled by a teacher.

Example::

    lane-sad pseudo-label drive.mp4 stills/ --teacher twinlitenet_bdd100k.onnx --out data/pseudo --every 2
    lane-sad pseudo-label drive.mp4 --teacher enet_sad_default.pt --confirm twinlitenet_bdd100k.onnx --out data/own
    lane-sad data check data/pseudo --sheet data/pseudo/sheet.png

The teacher is a binary lane-line segmenter (``.onnx``) or a lane_sad model (``.pt``: its own
slotted lanes). Only confident lanes are written, and in videos only lanes a neighbouring frame confirms;
every slot without a kept lane is flagged unknown (``?``), so training does not teach a
missed line as background (:mod:`lane_sad_core.data.pseudo`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lane_sad_core.cli.infer import IMAGE_SUFFIXES, VIDEO_SUFFIXES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pseudo-label`` sub-command."""
    p = subparsers.add_parser(
        "pseudo-label",
        help="label unlabelled frames and videos with a teacher (an ONNX line segmenter or a lane_sad model)",
        description="Run a teacher over images, folders and videos: a binary lane-line segmenter (an ONNX file: "
        "RGB in [0, 1] in, lane probability out; its lines are split into slotted lanes) or a lane_sad model "
        "(a .pt checkpoint: its own slotted lanes). Keep the confident lanes (and in "
        "videos those a neighbouring frame confirms), and write a CULane tree with unknown slots flagged '?'.",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="images, folders of images, or videos")
    p.add_argument(
        "--teacher", type=Path, required=True, help="a lane-line segmenter (.onnx) or a lane_sad checkpoint (.pt)"
    )
    p.add_argument(
        "--confirm",
        type=Path,
        default=None,
        help="with a lane_sad --teacher: keep only its lanes that this line segmenter (.onnx) confirms",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (dataset root)")
    p.add_argument("--every", type=int, default=1, help="videos: label every N-th frame (default 1)")
    p.add_argument("--teacher-size", default="640x360", help="WxH of the teacher's input (default 640x360)")
    p.add_argument("--output", default="lane_prob", help="the teacher's lane-probability output")
    p.add_argument("--min-confidence", type=float, default=0.6, help="mean probability along a kept lane")
    p.add_argument("--agree", type=float, default=0.015, help="videos: largest distance to the neighbours' lane")
    p.add_argument("--num-slots", type=int, default=4)
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lane_sad_core.data.convert import LaneRules
    from lane_sad_core.data.convert.report import write_report
    from lane_sad_core.data.convert.writer import CulaneTreeWriter, WriteSettings
    from lane_sad_core.data.pseudo import PseudoLabelConfig
    from lane_sad_core.errors import ConfigError

    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        raise ConfigError(f"{args.out} is not empty (use --overwrite to write into it)")
    if not args.teacher.is_file():
        raise FileNotFoundError(2, "no such teacher file", str(args.teacher))
    if args.every < 1:
        raise ConfigError(f"--every must be at least 1, got {args.every}")
    try:
        width, height = (int(v) for v in args.teacher_size.split("x"))
    except ValueError:
        raise ConfigError(f"--teacher-size must be WxH like 640x360, got {args.teacher_size!r}") from None
    cfg = PseudoLabelConfig((width, height), args.output, min_confidence=args.min_confidence, agree=args.agree,
                            num_slots=args.num_slots)  # fmt: skip
    teacher = make_teacher(args.teacher, args.confirm, cfg)
    settings = WriteSettings(LaneRules(num_slots=args.num_slots), (1.0, 0.0, 0.0), jpeg=True,
                             unknown_slots=tuple(range(args.num_slots)))  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    writer = CulaneTreeWriter(args.out, settings)
    lanes_written = 0
    for name, frames in sequences(args.inputs, args.every):
        for key, image, lanes in label_sequence(name, frames, teacher, cfg):
            writer.add(source_frame(key, image, lanes))
            lanes_written += len(lanes)
    report = writer.finish("pseudo-label", args.teacher)
    path = write_report(args.out, report)
    print(f"{args.out}: {report.summary()}, {lanes_written} lanes kept; report: {path}")
    if not report.written():
        raise ConfigError(f"no frame of {', '.join(map(str, args.inputs))} could be labelled")
    return 0


def make_teacher(path: Path, confirm: Path | None, cfg):
    """The teacher a file holds: a lane_sad checkpoint (``.pt``, optionally confirmed by a line
    segmenter) or an ONNX line segmenter."""
    from lane_sad_core.data.pseudo import OnnxLineTeacher
    from lane_sad_core.errors import ConfigError

    if path.suffix != ".pt":
        if confirm is not None:
            raise ConfigError(f"--confirm needs a lane_sad model (.pt) as --teacher, got {path}")
        return OnnxLineTeacher(str(path), cfg)
    from lane_sad_core.infer.model_teacher import ModelTeacher

    if confirm is not None and not confirm.is_file():
        raise FileNotFoundError(2, "no such confirming teacher file", str(confirm))
    return ModelTeacher(path, cfg, OnnxLineTeacher(str(confirm), cfg) if confirm else None)


def sequences(inputs: list[Path], every: int):
    """(name, [(key, BGR frame), ...]) per video; each still image is its own one-frame sequence."""
    import cv2

    from lane_sad_core.errors import ConfigError

    for path in inputs:
        if not path.exists():
            raise FileNotFoundError(2, "no such file or folder", str(path))
        if path.suffix.lower() in VIDEO_SUFFIXES:
            yield path.stem, _video_frames(path, every)
            continue
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]
        for file in files:
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                raise ConfigError(f"{file}: not a readable image")
            key = str(file.relative_to(path)) if path.is_dir() else file.name
            yield key, [(key, image)]


def _video_frames(path: Path, every: int) -> list:
    import cv2

    from lane_sad_core.errors import ConfigError

    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append((f"{path.stem}/{index:05d}.jpg", image))
        index += 1
    capture.release()
    if not frames:
        raise ConfigError(f"{path}: no frame could be read")
    return frames


def label_sequence(name: str, frames: list, teacher, cfg):
    """(key, image, kept lanes) per frame of one sequence."""
    from tqdm import tqdm

    from lane_sad_core.data.pseudo import consistent_in_time

    per_frame = [teacher.lanes(image) for _, image in tqdm(frames, desc=name, leave=False, disable=None)]
    width = frames[0][1].shape[1]
    kept = consistent_in_time(per_frame, width, cfg)
    return [(key, image, lanes) for (key, image), lanes in zip(frames, kept)]


def source_frame(key: str, image, lanes):
    """A converter frame: the image as JPEG bytes and the kept lanes with their slots."""
    import cv2

    from lane_sad_core.data.convert.frames import SourceFrame, SourceLane

    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    stem = key.rsplit(".", 1)[0] + ".jpg"
    return SourceFrame(
        stem, None, [SourceLane(lane.points, f"teacher lane {lane.slot + 1}", lane.slot) for lane in lanes],
        image_bytes=data.tobytes(),
    )  # fmt: skip
