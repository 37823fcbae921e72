"""Measure how steady the detector's lanes are on real videos, with temporal smoothing off and on.

For every frame the network runs once; its maps are decoded with the official per-row
decoding and with the robust fit, each without and with the detector's temporal smoothing
(:mod:`lane_sad_core.infer.temporal`, default parameters). For each of the four it reports
the frame-to-frame jitter of matched lanes (median and p95 of the column change at fixed
rows, px) and the flickers (a lane gone for 1-3 frames and back), from
:mod:`lane_sad_core.metrics.stability`, as a Markdown table.

    python tools/jitter.py [VIDEO ...] [--out bench/results/jitter.md] [--checkpoint CKPT]

Default videos: the two unlabelled real videos in ``../shared/data/real`` (or
``$LANE_SAD_REAL_DATA``). No timing is measured: the figures do not depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lane_sad_core.infer.detector import LaneDetector  # noqa: E402
from lane_sad_core.infer.postprocess import PostprocessConfig, lanes_from_probmaps  # noqa: E402
from lane_sad_core.infer.temporal import LaneTracker, TemporalConfig  # noqa: E402
from lane_sad_core.lanes import Lane  # noqa: E402
from lane_sad_core.metrics.stability import StabilityReport, stability  # noqa: E402

REAL = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
VIDEOS = (
    REAL / "unlabelled/udacity__CarND-LaneLines-P1/test_videos/solidWhiteRight.mp4",
    REAL / "unlabelled/estherjk__lanenet-lane-detection/data/tusimple_test_video/0.mp4",
)
FITS = ("official", "robust")


@dataclass
class Variant:
    """One decoding of the video: a fit, smoothing on or off, and the lanes of every frame."""

    fit: str
    smoothing: bool
    tracker: LaneTracker | None
    frames: list[list[Lane]] = field(default_factory=list)


def measure(detector: LaneDetector, video: Path) -> tuple[list[Variant], tuple[int, int]]:
    """Every variant's lanes over the video's frames, and the frame size."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"jitter: cannot open video {video}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    variants = [Variant(f, s, LaneTracker(TemporalConfig()) if s else None) for f in FITS for s in (False, True)]
    shape = (0, 0)
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        shape = frame.shape[:2]
        det = detector.detect(frame)
        for v in variants:
            lanes = lanes_from_probmaps(det.prob, det.exist, shape, detector.preprocess, PostprocessConfig(fit=v.fit))
            v.frames.append(v.tracker.update(lanes, shape, index / fps) if v.tracker else lanes)
        index += 1
    cap.release()
    return variants, shape


def table(rows: list[tuple[str, Variant, StabilityReport]]) -> str:
    """The figures as Markdown."""
    out = [
        "| video | fit | smoothing | frames | lanes/frame | jitter median px | jitter p95 px | flickers "
        "| slot switches |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, v, r in rows:
        out.append(
            f"| {name} | {v.fit} | {'on' if v.smoothing else 'off'} | {r.frames} | {r.lanes / max(r.frames, 1):.2f} | "
            f"{r.median:.2f} | {r.p95:.2f} | {r.flickers} | {r.switches} |"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", nargs="*", type=Path, default=list(VIDEOS))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "jitter.md")
    parser.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    args = parser.parse_args()
    detector = LaneDetector(args.checkpoint, device="cpu", threads=1)  # a shared CPU: README "The node"
    rows = []
    for video in args.videos:
        variants, shape = measure(detector, video)
        for v in variants:
            rows.append((video.name, v, stability(v.frames, shape)))
        print(f"jitter: {video.name}: {len(variants[0].frames)} frames", file=sys.stderr)
    cfg = TemporalConfig()
    text = "\n".join(
        [
            "# Lane jitter over real videos: temporal smoothing off and on",
            "",
            f"Written by `tools/jitter.py` with {args.checkpoint or 'the shipped model'} "
            f"(`{detector.meta.model_name}`). Jitter: absolute column change of a lane between "
            "consecutive frames at every 20th source row, for lanes in the same slot whose mean change is "
            "within 5 % of the image width (further: a slot switch, counted apart). Flickers: a slot gone "
            "for 1-3 frames and back. Smoothing: the detector's tracker with its defaults "
            f"(alpha {cfg.alpha}, gate {cfg.gate} of the width, hold {cfg.hold} frames).",
            "",
            table(rows),
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
