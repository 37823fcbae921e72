"""Make ``docs/synth_grid.png``: synthetic frames of every category beside real frames.

Rows: real CULane and TuSimple frames (two rows, when ``--real`` points at the shared
real-frame folder), then the nine CULane categories; columns: CULane look, TuSimple look.
Ground-truth lanes are drawn as thin coloured lines (slot colours left to right: blue,
green, magenta, red, yellow).

    python tools/make_synth_grid.py --out docs/synth_grid.png [--seed 3] [--real DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lane_sad_core.data.formats import read_culane_lines, read_tusimple
from lane_sad_core.data.slots import assign_slots
from lane_sad_core.data.synth.presets import preset
from lane_sad_core.data.synth.render import SceneRenderer, scene_lanes
from lane_sad_core.data.synth.scene import CATEGORIES, sample_scene
from lane_sad_core.lanes import Lane

TILE_H = 200
COLORS = [(255, 120, 0), (0, 220, 0), (255, 0, 255), (0, 0, 255), (0, 230, 230), (255, 255, 0)]
DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def tile(image: np.ndarray, lanes: list[Lane], title: str) -> np.ndarray:
    """Image scaled to the row height, with its lanes and a title."""
    scale = TILE_H / image.shape[0]
    out = cv2.resize(image, (round(image.shape[1] * scale), TILE_H), interpolation=cv2.INTER_AREA)
    for lane in lanes:
        pts = np.round(lane.points * scale * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], False, COLORS[lane.slot % len(COLORS)], 1, cv2.LINE_AA, 4)
    cv2.putText(out, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def blank(width: int, height: int) -> np.ndarray:
    """A grey tile of a source size, scaled to the row height."""
    return np.full((TILE_H, round(width * TILE_H / height), 3), 200, np.uint8)


def real_rows(real: Path) -> list[np.ndarray]:
    """Two rows of real frames with their labels: CULane clip 0756 and the ``culane_ego``
    drive (another car: taller bonnet, higher horizon; ego lanes labelled only), and two
    TuSimple frames. Grey tiles where a frame is absent."""
    culane = sorted(real.glob("culane/*/driver_*/*/*.jpg"))
    ego = sorted(real.glob("culane_ego/*/example/03000.jpg"))
    tus_root = next(iter(sorted(real.glob("tusimple/*"))), None)
    tiles = [blank(1640, 590), blank(1280, 720), blank(1640, 590), blank(1280, 720)]
    for k, (paths, title) in enumerate(((culane, "REAL CULane"), (ego, "REAL CULane, another car (ego lanes)"))):
        if paths:
            path = paths[len(paths) // 2]
            lanes = assign_slots(read_culane_lines(path.with_suffix(".lines.txt")), 1640, 590, 4)
            tiles[2 * k] = tile(cv2.imread(str(path)), lanes, title)
    if tus_root is not None:
        matched = tus_root / "official_labels_matched"
        labels = {r.raw_file: r for r in read_tusimple(matched / "test_label.subset.json")}
        with (matched / "mapping.csv").open() as handle:
            rows = [r for r in csv.DictReader(handle) if r["tusimple_raw_file"] in labels]
        for k, row in enumerate(rows[:2]):
            lanes = assign_slots(labels[row["tusimple_raw_file"]].to_lanes(), 1280, 720, 6)
            tiles[2 * k + 1] = tile(cv2.imread(str(tus_root / row["local_image"])), lanes, "REAL TuSimple")
    return [np.hstack(tiles[:2]), np.hstack(tiles[2:])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/synth_grid.png"))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--photos", type=Path, help="road photos for the ground grain (default: REAL/unlabelled)")
    args = parser.parse_args()
    photos = args.photos or args.real / "unlabelled"
    presets = {name: preset(name, photo_textures=str(photos)) for name in ("culane", "tusimple")}
    renderers = {name: SceneRenderer(p, args.seed) for name, p in presets.items()}
    rows = real_rows(args.real) if args.real.is_dir() else []
    for k, category in enumerate(CATEGORIES):
        cells = []
        for name, renderer in renderers.items():
            scene = sample_scene(np.random.default_rng([args.seed, k]), presets[name], category)
            cells.append(tile(renderer.render(scene), scene_lanes(scene), f"synthetic {name}: {category}"))
        rows.append(np.hstack(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
