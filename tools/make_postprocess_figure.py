"""Make ``docs/postprocess_before_after.png``: real frames decoded per row (official) and with the robust fit.

The frames are chosen, not picked by hand: every real frame of the sources below is
decoded both ways with the shipped model, and the frames where the official lanes stray
furthest from the robust curves (the zigzags) are shown, at most two per source. Columns:
the official per-row decoding, the robust fit, the robust fit extended to the bottom row.

    python tools/make_postprocess_figure.py [--out docs/postprocess_before_after.png] [--frames 4]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lane_sad_core.infer.detector import LaneDetector  # noqa: E402
from lane_sad_core.infer.overlay import draw_lanes  # noqa: E402
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps  # noqa: E402
from lane_sad_core.lanes import Lane  # noqa: E402

REAL = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
SOURCES = {
    "CULane clip 0756": "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030822_0756.MP4",
    "TuSimple (LSTR)": "tusimple/liuruijin17__LSTR",
    "unlabelled": "unlabelled",
}
COLUMNS = {
    "official (per row)": PostprocessConfig(fit="official"),
    "robust fit": PostprocessConfig(),
    "robust, extend_to_bottom": PostprocessConfig(extend_to_bottom=True),
}
TILE_W = 400


def zigzag(official: list[Lane], robust: list[Lane]) -> float:
    """How far the official points stray from the robust curve of the same slot (max px, 0 if none)."""
    curves = {lane.slot: lane for lane in robust}
    worst = 0.0
    for lane in official:
        if lane.slot in curves:
            dx = np.abs(curves[lane.slot].x_at(lane.points[:, 1]) - lane.points[:, 0])
            worst = max(worst, float(np.nanmax(dx, initial=0.0)))
    return worst


def tile(image: np.ndarray, lanes: list[Lane], title: str) -> np.ndarray:
    """The frame with its lanes, scaled to the tile width, titled."""
    drawn = draw_lanes(image, lanes)
    scale = TILE_W / drawn.shape[1]
    out = cv2.resize(drawn, (TILE_W, round(drawn.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    for color, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, title, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, width, cv2.LINE_AA)
    return out


def tile_row(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles side by side, cut to the shortest."""
    height = min(t.shape[0] for t in tiles)
    return np.hstack([t[:height] for t in tiles])


def write_grid(rows: list[np.ndarray], out: Path) -> None:
    """Rows stacked with a white gap, written as a compressed PNG."""
    width = max(r.shape[1] for r in rows)
    grid = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "postprocess_before_after.png")
    parser.add_argument("--frames", type=int, default=4)
    args = parser.parse_args()
    detector = LaneDetector(device="cpu", threads=1)  # a shared CPU: README "The node"
    scored = []
    for source, rel in SOURCES.items():
        for path in sorted((REAL / rel).rglob("*.jpg")):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            det = detector.detect(image)
            lanes = {
                name: lanes_from_probmaps(det.prob, det.exist, image.shape[:2], detector.preprocess, cfg)
                for name, cfg in COLUMNS.items()
            }
            official, robust = (lanes[name] for name in list(COLUMNS)[:2])
            scored.append((zigzag(official, robust), source, path, image, lanes))
    scored.sort(key=lambda item: -item[0])
    rows, per_source = [], dict.fromkeys(SOURCES, 0)
    for score, source, path, image, lanes in scored:
        if len(rows) == args.frames or per_source[source] == 2:
            continue
        per_source[source] += 1
        rows.append(tile_row([tile(image, lanes[name], f"{name} - {source} {path.stem}") for name in COLUMNS]))
        print(f"{source} {path.name}: official lanes up to {score:.0f} px off the robust curve")
    write_grid(rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
