"""Lay out the default model's training and test data from a synthetic set and the real frames.

Writes (symlinks, no copies) under OUT:
  * the synthetic CULane tree (images, masks, meta, test_split lists);
  * ``real_culane/`` -> the real CULane frames; clip 06030819_0755 joins the training list
    (repeated ``--real-repeat`` times), clip 06030822_0756 is held out as ``list/real_test.txt``;
  * ``real_tusimple/`` -> the real TuSimple frames (LSTR sample) in the official clips layout
    with ``test_label.json`` (never trained on);
  * with ``--synth-tusimple``: ``synth_tusimple/`` -> a synthetic TuSimple-look set (highway,
    1280x720, the TuSimple camera) and ``list/train_mix_gt.txt``: the training list plus its
    training frames, with masks drawn here (its test split stays for scoring). The default
    model's second stage trains on it: CULane-look frames alone taught one camera and image
    aspect, and the first stage found almost no lanes on real TuSimple frames.

usage: prepare_default_data.py SYNTH_ROOT REAL_ROOT OUT [--real-repeat N] [--synth-tusimple DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from pathlib import Path

CULANE_REAL = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame"
TRAIN_CLIP, TEST_CLIP = "06030819_0755.MP4", "06030822_0756.MP4"
LSTR = "tusimple/liuruijin17__LSTR"


def link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def real_lines(clip_dir: Path, prefix: str) -> list[str]:
    """CULane list lines (image only) for one real clip."""
    return [f"/{prefix}/{clip_dir.name}/{p.name}" for p in sorted(clip_dir.glob("*.jpg"))]


def real_train_lines(clip_dir: Path, prefix: str, out: Path) -> list[str]:
    """``train_gt.txt`` lines for a real CULane clip (its ``.lines.txt`` labels)."""
    from lane_sad_core.data.formats import read_culane_lines

    return [
        mask_line(
            f"/{prefix}/{clip_dir.name}/{image.name}",
            image,
            [ln for ln in read_culane_lines(image.with_suffix(".lines.txt")) if len(ln) >= 2],
            out,
        )
        for image in sorted(clip_dir.glob("*.jpg"))
    ]


def tusimple_train_lines(root: Path, label_file: str, prefix: str, out: Path) -> list[str]:
    """``train_gt.txt`` lines for the frames of a TuSimple label file, linked under ``/prefix/``.

    Each image is linked with a CULane ``.lines.txt`` beside it (the CULane reader wants one).
    """
    from lane_sad_core.data.formats import read_tusimple, write_culane_lines

    lines = []
    for rec in read_tusimple(root / label_file):
        image = out / prefix / rec.raw_file
        link(root / rec.raw_file, image)
        lanes = [ln for ln in rec.to_lanes() if len(ln) >= 2]
        write_culane_lines(image.with_suffix(".lines.txt"), lanes)
        lines.append(mask_line(f"/{prefix}/{rec.raw_file}", image, lanes, out))
    return lines


def mask_line(rel_image: str, image: Path, lanes: list, out: Path) -> str:
    """One ``train_gt.txt`` line, with the slot mask drawn 16 px wide as CULane's.

    Slots come from the bottom-x rule (:func:`~lane_sad_core.data.slots.assign_slots`), as
    the dataset assigns them; neither the real sample nor TuSimple labels carry CULane masks.
    """
    import cv2

    from lane_sad_core.data.raster import rasterize_lanes
    from lane_sad_core.data.slots import assign_slots

    height, width = cv2.imread(str(image), cv2.IMREAD_REDUCED_GRAYSCALE_2).shape[:2]
    height, width = height * 2, width * 2
    lanes = assign_slots(lanes, width, height, 4)
    mask_rel = "/laneseg_label_w16" + str(Path(rel_image).with_suffix(".png"))
    (out / mask_rel[1:]).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / mask_rel[1:]), rasterize_lanes(lanes, (height, width), 16))
    flags = " ".join("1" if any(ln.slot == s for ln in lanes) else "0" for s in range(4))
    return f"{rel_image} {mask_rel} {flags}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("synth", type=Path)
    parser.add_argument("real", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--real-repeat", type=int, default=20)
    parser.add_argument("--synth-tusimple", type=Path, help="a `lane-sad synth --format tusimple` root")
    args = parser.parse_args()
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    for name in ("driver_synth", "meta.json"):
        link(args.synth / name, out / name)
    link(args.synth / "laneseg_label_w16" / "driver_synth", out / "laneseg_label_w16" / "driver_synth")
    (out / "list").mkdir(parents=True)
    link(args.synth / "list" / "test_split", out / "list" / "test_split")
    for name in ("val_gt.txt", "test.txt"):
        shutil.copy(args.synth / "list" / name, out / "list" / name)
    train = (args.synth / "list" / "train_gt.txt").read_text().splitlines()
    real_root = args.real / CULANE_REAL
    if real_root.is_dir():
        link(real_root, out / "real_culane")
        train += real_train_lines(real_root / TRAIN_CLIP, "real_culane", out) * args.real_repeat
        (out / "list" / "real_test.txt").write_text("\n".join(real_lines(real_root / TEST_CLIP, "real_culane")) + "\n")
        _tusimple(args.real / LSTR, out / "real_tusimple")
    (out / "list" / "train_gt.txt").write_text("\n".join(train) + "\n")
    print(f"prepare_default_data: {len(train)} training entries in {out}")
    if args.synth_tusimple:
        link(args.synth_tusimple, out / "synth_tusimple")
        train += tusimple_train_lines(args.synth_tusimple, "label_data_synth.json", "synth_tusimple_train", out)
        (out / "list" / "train_mix_gt.txt").write_text("\n".join(train) + "\n")
        print(f"prepare_default_data: {len(train)} entries with the TuSimple-look frames (list/train_mix_gt.txt)")
    return 0


def _tusimple(lstr: Path, out: Path) -> None:
    """The LSTR TuSimple frames in the official layout with their official label lines."""
    with (lstr / "official_labels_matched" / "mapping.csv").open() as f:
        for row in csv.DictReader(f):
            link(lstr / row["local_image"], out / row["tusimple_raw_file"])
    labels = [lstr / "official_labels_matched" / n for n in ("label_data_0313.subset.json", "test_label.subset.json")]
    (out / "test_label.json").write_text("".join(p.read_text() for p in labels))


if __name__ == "__main__":
    raise SystemExit(main())
