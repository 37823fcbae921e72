"""Add every real training frame to the default model's data (stage 3 of ``make train-default``).

Builds on the tree ``tools/prepare_default_data.py`` wrote (OUT) and writes
``list/train_real_gt.txt``: its ``train_mix_gt.txt`` plus

* the training stretch of the real CULane drive (``culane_ego_train`` of
  ``tools/realsets.py``: ego-lane labels, outer slots flagged unknown, the official SCNN's
  probability maps linked beside each frame for ``distill.teacher_maps``), ``--ego-repeat`` x;
* pseudo-labels of the unlabelled real images and videos (``lane-sad pseudo-label``; only
  confident lanes, in videos confirmed by a neighbouring frame; slots it cannot be sure of are
  unknown), ``--pseudo-repeat`` x: with ``--model-teacher``, the model's own confident lanes
  that the line teacher confirms, and the BDD100K-trained line teacher's lanes on frames
  where the model kept none; without it, the line teacher's lanes alone;
* the labelled TuSimple-camera and OpenLane samples converted by ``lane-sad convert``
  (TuSimple 512x288, LaneNet's TuSimple training example, OpenLane), ``--convert-repeat`` x.

No evaluation frame is touched: the evaluation splits of ``tools/realsets.py`` (CULane clip
06030822_0756, the drive's frames from 02400 on, the LSTR TuSimple frames) are disjoint from
every source here; ``check_disjoint`` verifies it by image content before writing the list.

usage: prepare_real_data.py OUT REAL_ROOT --teacher ONNX [--model-teacher MODEL.pt]
                            [--ego-repeat 4] [--pseudo-repeat 2] [--convert-repeat 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realsets  # a sibling tool module

UNLABELLED = (
    "unlabelled/estherjk__lanenet-lane-detection/data/tusimple_test_video/0.mp4",
    "unlabelled/udacity__CarND-LaneLines-P1/test_videos/solidWhiteRight.mp4",
    "unlabelled/udacity__CarND-LaneLines-P1/test_images",
    "unlabelled/udacity__CarND-Advanced-Lane-Lines/test_images",
    "unlabelled/MaybeShewill-CV__lanenet-lane-detection/data/tusimple_test_image",
    "unlabelled/karstenBehrendt__unsupervised_llamas/samples",
)
CONVERTS = {  # name: (format, input, --images)
    "tusimple_512x288": (
        "tusimple",
        "tusimple_512x288/sergey-ryzhikov__TusimpleLabelData/tusimple_sample_512x288/label_data.json",
        "tusimple_512x288/sergey-ryzhikov__TusimpleLabelData/tusimple_sample_512x288",
    ),
    "lanenet": ("lanenet", "lanenet/MaybeShewill-CV__lanenet-lane-detection/data/training_data_example", None),
    "openlane": (
        "openlane",
        "openlane/OpenDriveLab__OpenLane/eval/LANE_evaluation/lane2d/example/annotations",
        "openlane/OpenDriveLab__OpenLane/eval/LANE_evaluation/lane2d/example/images",
    ),
}


def lane_sad(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "lane_sad_core", *argv], check=True)


def build_pseudo(real: Path, teacher: Path, out: Path, name: str = "pseudo", confirm: Path | None = None) -> Path:
    """``lane-sad pseudo-label`` over the unlabelled frames (videos: every 2nd frame) into OUT/name."""
    root = out / name
    if not (root / "list" / "all_gt.txt").is_file():
        inputs = [str(real / rel) for rel in UNLABELLED if (real / rel).exists()]
        extra = ["--confirm", str(confirm)] if confirm else []
        lane_sad("pseudo-label", "--teacher", str(teacher), *extra, "--out", str(root), "--every", "2", "--overwrite",
                 *inputs)  # fmt: skip
    return root


def merged_pseudo(own: list[str], lines: list[str]) -> list[str]:
    """Per frame, the model's own pseudo-label where it kept a lane, else the line teacher's.

    The model's confirmed lanes are the more precise (0.76 against the line teacher's 0.44 on
    CULane clip 0756, docs/model.md) and run through the bonnet as CULane's labels do; the line
    teacher still covers frames from cameras the model does not handle yet.
    """

    def frame(line: str) -> str:  # the frame's path inside its pseudo-label tree
        return line.split()[0].split("/", 2)[2]

    by_frame = {frame(line): line for line in lines}
    for line in own:
        if "1" in line.split()[2:]:
            by_frame[frame(line)] = line
    return list(by_frame.values())


def build_convert(real: Path, name: str, out: Path) -> Path | None:
    """One labelled sample converted to a CULane tree, everything in train."""
    fmt, source, images = CONVERTS[name]
    root = out / name
    if not (real / source).exists():
        return None
    if not (root / "list" / "all_gt.txt").is_file():
        extra = ["--images", str(real / images)] if images else []
        lane_sad(
            "convert", "--from", fmt, str(real / source), "--out", str(root), "--split", "1,0,0", *extra, "--overwrite"
        )
    return root


def prefixed(root: Path, out: Path) -> list[str]:
    """A converted tree's ``all_gt.txt`` lines with paths made relative to OUT."""
    prefix = "/" + root.relative_to(out).as_posix()
    return [
        " ".join([prefix + parts[0], prefix + parts[1], *parts[2:]])
        for parts in (line.split() for line in (root / "list" / "all_gt.txt").read_text().splitlines())
        if parts
    ]


def thumbnail(path: Path) -> np.ndarray | None:
    image = cv2.imread(str(path))
    return None if image is None else cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)


def check_disjoint(train_images: list[Path], real: Path, max_diff: float = 12.0) -> None:
    """Fail if a training image looks like an evaluation frame (mean abs difference of 64x36 thumbnails)."""
    evals = [
        t
        for s in realsets.SPLITS.values()
        if s.use == "eval"
        for p in realsets.images(s, real)
        if (t := thumbnail(p)) is not None
    ]
    for path in train_images:
        thumb = thumbnail(path)
        if thumb is not None and evals and min(float(np.abs(thumb - e).mean()) for e in evals) < max_diff:
            raise SystemExit(f"prepare_real_data: {path} looks like an evaluation frame; refusing to train on it")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the tree prepare_default_data.py wrote")
    parser.add_argument("real", type=Path, help="the shared real-frame folder")
    parser.add_argument("--teacher", type=Path, required=True, help="the line teacher's ONNX file")
    parser.add_argument("--model-teacher", type=Path, help="a lane_sad model whose confirmed lanes to add")
    parser.add_argument("--ego-repeat", type=int, default=4)
    parser.add_argument("--pseudo-repeat", type=int, default=2)
    parser.add_argument("--convert-repeat", type=int, default=4)
    args = parser.parse_args()
    out = args.out.resolve()
    lines = (out / "list" / "train_mix_gt.txt").read_text().splitlines()
    ego_list = realsets.link_train_split(realsets.SPLITS["culane_ego_train"], args.real, out, args.ego_repeat)
    lines += ego_list.read_text().splitlines()
    added = prefixed(build_pseudo(args.real, args.teacher, out), out)
    if args.model_teacher:
        own = build_pseudo(args.real, args.model_teacher, out, "pseudo_own", confirm=args.teacher)
        added = merged_pseudo(prefixed(own, out), added)
    lines += added * args.pseudo_repeat
    for name in CONVERTS:
        root = build_convert(args.real, name, out)
        if root is not None:
            converted = prefixed(root, out)
            added += converted
            lines += converted * args.convert_repeat
    check_disjoint([out / line.split()[0][1:] for line in added], args.real)
    (out / "list" / "train_real_gt.txt").write_text("\n".join(lines) + "\n")
    print(f"prepare_real_data: {len(lines)} training entries (list/train_real_gt.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
