"""Synthetic road scenes written as official CULane / TuSimple trees.

A frame is sampled as a :class:`Scene` (camera, road, paint, traffic, roadside, light,
camera response) for one of CULane's nine categories, drawn by :class:`SceneRenderer`,
and written with its labels by :class:`FrameWriter`. ``lane-sad synth`` drives it.
"""

from lane_sad_core.data.synth.presets import PRESETS, SynthPreset, preset
from lane_sad_core.data.synth.render import SceneRenderer, scene_lanes
from lane_sad_core.data.synth.scene import CATEGORIES, Scene, canonical_category, sample_scene
from lane_sad_core.data.synth.writer import (
    FrameRecord,
    FrameWriter,
    SynthFrame,
    SynthSettings,
    generate,
    parse_categories,
    write_lists,
)

__all__ = [
    "CATEGORIES",
    "PRESETS",
    "FrameRecord",
    "FrameWriter",
    "Scene",
    "SceneRenderer",
    "SynthFrame",
    "SynthPreset",
    "SynthSettings",
    "canonical_category",
    "generate",
    "parse_categories",
    "preset",
    "sample_scene",
    "scene_lanes",
    "write_lists",
]
