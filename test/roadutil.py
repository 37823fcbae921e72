"""Synthetic road frames with known camera and lane geometry, for the metric-geometry tests.

The generator knows each frame's camera (height, pitch, roll, focal length) and road (lane
width, the camera's offset from the lane centre, heading, curvature); its ground-truth image
lanes are handed to the code under test as the detector would give them: whole pixels,
inside the image.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lane_sad_core.data.synth import Scene, preset, sample_scene, scene_lanes
from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.geometry import project_to_ground


def camera_matrix(cam: Camera) -> np.ndarray:
    """The 3x3 ``CameraInfo.k`` of a synthetic camera."""
    return np.array([[cam.focal, 0.0, cam.cx], [0.0, cam.focal, cam.cy], [0.0, 0.0, 1.0]])


def road_scenes(
    name: str, count: int, seed: int, categories: tuple[str, ...] = ("normal", "curve"), **overrides: object
) -> Iterator[Scene]:
    """``count`` scenes of preset ``name`` (lens distortion off: the node assumes a pinhole),
    cycling through ``categories``; ``overrides`` change preset fields (e.g. ``roll_jitter_deg``)."""
    settings = preset(name, **{"lens_prob": 0.0, **overrides})
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield sample_scene(rng, settings, categories[i % len(categories)])


def image_lanes(scene: Scene) -> dict[int, np.ndarray]:
    """Slot -> (N, 2) ground-truth pixels of the scene's labelled lanes, rounded, inside the image."""
    cam = scene.camera
    out = {}
    for lane in scene_lanes(scene):
        px = np.round(lane.points)
        inside = (px[:, 0] >= 0) & (px[:, 0] < cam.width) & (px[:, 1] >= 0) & (px[:, 1] < cam.height)
        if inside.sum() >= 2:
            out[lane.slot] = px[inside]
    return out


def ground_lanes(scene: Scene) -> dict[int, np.ndarray]:
    """Slot -> the lanes' flat-ground points, projected as the node projects them, with the frame's camera."""
    cam = scene.camera
    return {
        slot: project_to_ground(px, camera_matrix(cam), cam.mount_height, cam.pitch)
        for slot, px in image_lanes(scene).items()
    }
