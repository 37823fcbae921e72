"""How well the ego lane in metres and the pitch estimate match synthetic roads of known geometry.

    python tools/ego_lane_accuracy.py [--frames 60] [--windows 20] [--model]

Without ``--model`` the generator's ground-truth image lanes (whole pixels, inside the image)
go through the node's code path: flat-ground projection with the frame's camera,
:func:`lane_sad_core.ego_lane.ego_lane`, :func:`lane_sad_core.camera_pitch.frame_pitch` and
the :class:`~lane_sad_core.camera_pitch.PitchEstimator` (3 s at 10 Hz); that is the
geometry's own error, with and without the camera roll the node does not model. ``--model``
adds the shipped model's lanes on rendered frames, projected with the true pitch. It uses
the tests' synthetic-road helpers (``test/roadutil.py``), so the numbers are those the
tests' tolerances rest on (docs/node.md quotes them).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "test")]

from roadutil import camera_matrix, ground_lanes, image_lanes, road_scenes  # noqa: E402

from lane_sad_core.camera_pitch import PitchEstimator, PitchSettings, frame_pitch  # noqa: E402
from lane_sad_core.data.synth import Scene, SceneRenderer, preset  # noqa: E402
from lane_sad_core.ego_lane import EgoLane, EgoLaneConfig, ego_lane  # noqa: E402
from lane_sad_core.geometry import project_to_ground  # noqa: E402

CONFIG = EgoLaneConfig()
STILL = {"roll_jitter_deg": 0.0, "pitch_jitter_deg": 0.0, "height_jitter": 0.0}


def errors(ego: EgoLane, scene: Scene) -> tuple[float, float, float, float]:
    """|error| of width, offset, heading and curvature against the generator's road (x right, bends right +)."""
    road = scene.road
    slope = road.slope(CONFIG.lookahead)
    curvature = -(road.curvature + road.curvature_rate * CONFIG.lookahead) / (1.0 + slope * slope) ** 1.5
    truth = (scene.layout.lane_width, road.offset * math.cos(road.heading), math.atan(road.heading), curvature)
    return tuple(abs(a - b) for a, b in zip((ego.width, ego.offset, ego.heading, ego.curvature), truth))


def row(label: str, errs: list) -> str:
    e = np.array(errs)
    cells = [" / ".join(f"{v:.2g}" for v in np.percentile(e[:, j], [50, 95, 100])) for j in range(4)]
    return f"| {label} | {len(e)} | " + " | ".join(cells) + " |"


def geometry_rows(name: str, frames: int) -> list[str]:
    rows = []
    for label, overrides in (("roll 0", {"roll_jitter_deg": 0.0}), ("preset's roll", {})):
        errs = []
        for scene in road_scenes(name, frames, seed=3, **overrides):
            ego = ego_lane(ground_lanes(scene), 4, CONFIG)
            if ego.valid:
                errs.append(errors(ego, scene))
        rows.append(row(f"{name}, ground-truth lanes, {label}", errs))
    return rows


def pitch_lines(name: str, frames: int, windows: int) -> list[str]:
    per_frame = []
    for scene in road_scenes(name, frames, seed=7, roll_jitter_deg=0.0):
        lanes = image_lanes(scene)
        if 1 in lanes and 2 in lanes:
            estimate = frame_pitch(lanes[1], lanes[2], camera_matrix(scene.camera))
            per_frame.append(abs(math.degrees(estimate - scene.camera.pitch)) if estimate is not None else math.nan)
    settled = []
    mounted = preset(name).camera().pitch
    for seed in range(20, 20 + windows):
        est = PitchEstimator(PitchSettings(window=3.0, min_frames=15))
        for i, scene in enumerate(road_scenes(name, 60, seed=seed)):
            lanes = image_lanes(scene)
            seen = 1 in lanes and 2 in lanes
            est.add(0.1 * i, frame_pitch(lanes[1], lanes[2], camera_matrix(scene.camera)) if seen else None)
        settled.append(abs(math.degrees(est.value - mounted)) if est.value is not None else math.nan)
    return [
        f"- {name}: one frame, roll 0: pitch error max {np.nanmax(per_frame):.3f} deg over {len(per_frame)} frames "
        f"({np.isnan(per_frame).sum()} without an estimate)",
        f"- {name}: settled window (preset's bumps), {windows} drives of 60 frames: error median "
        f"{np.nanmedian(settled):.3f}, max {np.nanmax(settled):.3f} deg ({np.isnan(settled).sum()} never settled)",
    ]


def model_lines(frames: int) -> list[str]:
    from lane_sad_core.infer.detector import LaneDetector

    detector = LaneDetector(None, "cpu", temporal=None)
    renderer = SceneRenderer(preset("culane", lens_prob=0.0, **STILL), 0)
    errs, pitch, departures = [], [], []
    for scene in road_scenes("culane", frames, seed=2, categories=("normal",), **STILL):
        for shift in (None, 1.1):  # as drawn, then 1.1 m right of the lane centre: past every threshold
            drawn = (
                scene
                if shift is None
                else dataclasses.replace(scene, road=dataclasses.replace(scene.road, offset=shift))
            )
            cam, k = drawn.camera, camera_matrix(drawn.camera)
            lanes = {lane.slot: lane.points for lane in detector.detect(renderer.render(drawn)).lanes}
            ego = ego_lane(
                {s: project_to_ground(p, k, cam.mount_height, cam.pitch) for s, p in lanes.items()}, 4, CONFIG
            )
            if shift is not None:
                departures.append(ego.departure)
            elif ego.valid:
                errs.append(errors(ego, drawn))
                if 1 in lanes and 2 in lanes and (estimate := frame_pitch(lanes[1], lanes[2], k)) is not None:
                    pitch.append(abs(math.degrees(estimate - cam.pitch)))
    return [
        row("culane, shipped model's lanes, true pitch", errs),
        "",
        f"- shipped model, one frame's pitch error: median {np.median(pitch):.2f}, max {np.max(pitch):.2f} deg",
        f"- shipped model, camera 1.1 m right of the centre: departure raised on {sum(departures)} of "
        f"{len(departures)} frames",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--windows", type=int, default=20, help="drives of 60 frames for the settled pitch")
    parser.add_argument("--model", action="store_true", help="also the shipped model's lanes (renders frames)")
    args = parser.parse_args()
    lines = [
        "| lanes | frames | width error, m: median / p95 / max | offset, m | heading, rad | curvature, 1/m |",
        "|---|---:|---|---|---|---|",
    ]
    for name in ("culane", "tusimple"):
        lines += geometry_rows(name, args.frames)
    tail = [""]
    if args.model:
        model = model_lines(args.frames)
        lines.append(model[0])
        tail += model[2:]
    for name in ("culane", "tusimple"):
        tail += pitch_lines(name, args.frames, args.windows)
    print("\n".join(lines + tail))


if __name__ == "__main__":
    main()
