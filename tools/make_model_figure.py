"""Make ``docs/model_before_after.png``: the evaluation splits' real frames, labels and two models.

Rows: frames of each real evaluation split of ``tools/realsets.py`` (never trained on),
chosen by a fixed rule (evenly spaced through the split), not by hand. Columns: the labels,
the model before (``--before``, e.g. the previous shipped weights) and after (the shipped
weights), both decoded as ``lane-sad eval`` decodes that split (robust fit, extended to the
bottom row on CULane frames).

    python tools/make_model_figure.py --before OLD.pt [--after NEW.pt] [--per-split 2] [--titles OLD NEW]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.infer.evaluate import read_image
from lane_sad_core.lanes import Lane

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import realsets  # noqa: E402  (sibling tool modules)
from make_postprocess_figure import REAL, tile, tile_row, write_grid  # noqa: E402


def labelled_frames(split: realsets.RealSplit, count: int, work: Path) -> list[tuple[np.ndarray, list[Lane], str]]:
    """``count`` evenly spaced frames of a split with their labels (ego splits: the ego lines only)."""
    dataset = realsets.eval_dataset(split, REAL, work)
    picks = np.linspace(0, len(dataset) - 1, count + 2)[1:-1].round().astype(int)
    out = []
    for index in picks:
        path = dataset.image_path(int(index))
        out.append((read_image(path), dataset.lanes(int(index)), f"{split.name} {path.stem}"))
    return out


def detect(detector: LaneDetector, image: np.ndarray, split: realsets.RealSplit) -> list[Lane]:
    detector.postprocess = realsets.decoding(split, detector.postprocess)
    lanes = detector.detect(image).lanes
    slots = realsets.model_slots(split, detector.num_slots)
    return [lane for lane in lanes if slots is None or lane.slot in slots]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the earlier checkpoint")
    parser.add_argument("--after", type=Path, default=None, help="the later checkpoint (default: the shipped one)")
    parser.add_argument("--titles", nargs=2, default=("before", "after"), help="the two models' column titles")
    parser.add_argument("--per-split", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("runs/realsets_work"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "model_before_after.png")
    args = parser.parse_args()
    models = {
        args.titles[0]: LaneDetector(args.before, "cpu", threads=1),
        args.titles[1]: LaneDetector(args.after, "cpu", threads=1),
    }
    rows = []
    for split in (s for s in realsets.SPLITS.values() if s.use == "eval"):
        for image, labels, title in labelled_frames(split, args.per_split, args.work.resolve()):
            tiles = [tile(image, labels, f"labels - {title}")]
            tiles += [tile(image, detect(det, image, split), name) for name, det in models.items()]
            rows.append(tile_row(tiles))
    write_grid(rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
