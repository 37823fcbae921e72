"""The project's fixed, named splits of the real frames in ``../shared/data/real``.

Every real-frame figure the project publishes (the model report, the comparison table)
comes from these splits, and no frame of an evaluation split is ever trained on, nor is
any teacher's output on it:

================== ===== ======== ========================================================
split              use   frames   what
================== ===== ======== ========================================================
culane_0756        eval  20       CULane clip 06030822_0756 (group 4), all four slots
culane_ego_eval    eval  28       the CULane drive of group 8, frames 02400..03570 whose ego
                                  lines are labelled (12 have none); scored on slots 2, 3
tusimple_lstr      eval  14       TuSimple frames of the LSTR sample (group 1), official rows
culane_0755        train 21       CULane clip 06030819_0755 (group 4), all four slots
culane_ego_train   train 80       group 8, frames 00000..02370: ego-lane labels, SCNN maps
================== ===== ======== ========================================================

The drive's labels leave a frame empty where nobody labelled it, not where the ego lines
are absent (they are visible in every one of those frames), so its evaluation split keeps
only the labelled frames: a lane found in an unlabelled frame is not a false positive.
The ego drive is split into two contiguous stretches rather than interleaved: its frames
are one second apart, so neighbours look alike and an interleaved split would score the
model on near-copies of its training frames.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CULANE_CLIPS = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame"
EGO_DRIVE = "culane_ego/czming__RONELD-Lane-Detection/example"
LSTR = "tusimple/liuruijin17__LSTR"
EGO_SPLIT_FRAME = 2400  # first frame number of the ego drive's evaluation stretch


@dataclass(frozen=True)
class RealSplit:
    """One named split.

    Attributes:
        name: its name in reports.
        use: ``"eval"`` (never trained on) or ``"train"``.
        format: ``"culane"`` or ``"tusimple"`` (how it is scored).
        folder: its images' folder, relative to the real-data root.
        keep: which image stems of the folder belong to the split.
        slots: 0-based slots that are labelled and scored; None for all.
        labelled_only: keep only frames whose label file names at least one line.
    """

    name: str
    use: str
    format: str
    folder: str
    keep: Callable[[str], bool] = lambda stem: True
    slots: frozenset[int] | None = None
    labelled_only: bool = False


EGO_SLOTS = frozenset({1, 2})  # the labels' ego lines, in CULane's four slots


def model_slots(split: RealSplit, num_slots: int) -> frozenset[int] | None:
    """The detections a model with ``num_slots`` slots is scored on: the split's labelled slots
    (CULane's four) moved to the model's middle, so a six-slot model's ego lines (2, 3) meet
    the labels' (1, 2); None scores every detection."""
    if split.slots is None:
        return None
    return frozenset(slot + num_slots // 2 - 2 for slot in split.slots)


SPLITS: dict[str, RealSplit] = {
    s.name: s
    for s in (
        RealSplit("culane_0756", "eval", "culane", f"{CULANE_CLIPS}/06030822_0756.MP4"),
        RealSplit("culane_ego_eval", "eval", "culane", EGO_DRIVE, lambda s: int(s) >= EGO_SPLIT_FRAME, EGO_SLOTS, True),
        RealSplit("tusimple_lstr", "eval", "tusimple", LSTR),
        RealSplit("culane_0755", "train", "culane", f"{CULANE_CLIPS}/06030819_0755.MP4"),
        RealSplit("culane_ego_train", "train", "culane", EGO_DRIVE, lambda s: int(s) < EGO_SPLIT_FRAME, EGO_SLOTS),
    )
}


def default_real_root() -> Path:
    """``$LANE_SAD_REAL_DATA``, else ``../shared/data/real`` beside the repository."""
    env = os.environ.get("LANE_SAD_REAL_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def images(split: RealSplit, real_root: Path) -> list[Path]:
    """The split's image files, sorted (the TuSimple split: the LSTR frames it scores)."""
    if split.format == "tusimple":
        return sorted(real_root / split.folder / row["local_image"] for row in _lstr_rows(real_root / split.folder))
    folder = real_root / split.folder
    return [
        p
        for p in sorted(folder.glob("*.jpg"))
        if split.keep(p.stem) and (not split.labelled_only or p.with_suffix(".lines.txt").stat().st_size > 0)
    ]


def eval_dataset(split: RealSplit, real_root: Path, work: Path):
    """A dataset over the split's source images, ready for ``evaluate_dataset``.

    CULane splits get a list file under ``work``; the TuSimple split is linked into the
    official clips layout there, with its official label lines.
    """
    from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset

    work.mkdir(parents=True, exist_ok=True)
    if split.format == "tusimple":
        root = work / split.name
        _link_lstr(real_root / LSTR, root)
        return TusimpleDataset(root, ["test_label.json"])
    root = real_root / split.folder
    listing = work / f"{split.name}.txt"
    listing.write_text("".join(f"/{p.name}\n" for p in images(split, real_root)))
    return CULaneDataset(root, listing)


def _link_lstr(lstr: Path, out: Path) -> None:
    """The LSTR frames in TuSimple's ``clips/...`` layout, with the official label lines."""
    for row in _lstr_rows(lstr):
        dst = out / row["tusimple_raw_file"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        os.symlink((lstr / row["local_image"]).resolve(), dst)
    labels = [lstr / "official_labels_matched" / n for n in ("label_data_0313.subset.json", "test_label.subset.json")]
    (out / "test_label.json").write_text("".join(p.read_text() for p in labels))


def _lstr_rows(lstr: Path) -> list[dict[str, str]]:
    """The LSTR sample's frames matched to official TuSimple labels (``mapping.csv`` rows)."""
    with (lstr / "official_labels_matched" / "mapping.csv").open() as f:
        return list(csv.DictReader(f))


def decoding(split: RealSplit, base):
    """``base`` (a ``PostprocessConfig``) as ``lane-sad eval`` decodes the split: lanes extended to
    the bottom row on CULane splits (CULane's labels run through the car's hood), not on TuSimple's."""
    import dataclasses

    from lane_sad_core.infer.evaluate import EXTEND_TO_BOTTOM

    return dataclasses.replace(base, extend_to_bottom=EXTEND_TO_BOTTOM[split.format])


def score(detector, real_root: Path, work: Path, names: list[str] | None = None) -> dict:
    """``{split name: EvalReport}`` of ``detector`` on the evaluation splits (all by default),
    each decoded as :func:`decoding` says."""
    from lane_sad_core.infer.evaluate import evaluate_dataset

    chosen = names or [n for n, s in SPLITS.items() if s.use == "eval"]
    base = detector.postprocess
    out = {}
    for name in chosen:
        split = SPLITS[name]
        detector.postprocess = decoding(split, base)
        dataset = eval_dataset(split, real_root, work)
        out[name] = evaluate_dataset(detector, dataset, slots=model_slots(split, detector.num_slots))
    detector.postprocess = base
    return out


def link_train_split(split: RealSplit, real_root: Path, root: Path, repeat: int = 1) -> Path:
    """Link a training split under ``root/real/<name>/`` and write its CULane list.

    Each image is linked with its ``.lines.txt`` and any teacher maps beside it
    (``<stem>_<k>_avg.png``), and gets a slot mask drawn 16 px wide as CULane's. Splits
    with all slots labelled flag their lanes 1/0; ego-lane splits flag the ego slots and
    mark the others ``?`` (unknown), and a frame with no labelled lines is all ``?``:
    its labels do not say whether the ego lines are absent or merely unlabelled.

    Returns:
        the list file, ``root/list/real_<name>_gt.txt``, each frame ``repeat`` times.
    """
    import cv2

    from lane_sad_core.data.formats import CulaneListEntry, read_culane_lines, write_culane_list
    from lane_sad_core.data.raster import rasterize_lanes
    from lane_sad_core.data.slots import assign_slots

    folder = root / "real" / split.name
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for image in images(split, real_root):
        for src in image.parent.glob(f"{image.stem}*"):
            dst = folder / src.name
            if not (dst.is_symlink() or dst.exists()):
                os.symlink(src.resolve(), dst)
        height, width = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).shape
        lanes = assign_slots(
            [ln for ln in read_culane_lines(image.with_suffix(".lines.txt")) if len(ln) >= 2], width, height, 4
        )
        mask = f"real_masks/{split.name}/{image.stem}.png"
        (root / mask).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / mask), rasterize_lanes(lanes, (height, width), 16))
        labelled = {ln.slot for ln in lanes}
        flags = tuple(
            1 if k in labelled else (0 if split.slots is None or (labelled and k in split.slots) else -1)
            for k in range(4)
        )
        entries.append(CulaneListEntry(f"real/{split.name}/{image.name}", mask, flags))
    listing = root / "list" / f"real_{split.name}_gt.txt"
    write_culane_list(listing, entries * repeat)
    return listing
