"""A frame's full description, drawn from a random generator for one category.

Sampling and drawing are separate: :func:`sample_scene` decides everything (pure data),
:mod:`~lane_sad_core.data.synth.render` draws it. Tests can then build or edit scenes
directly, and the generator is deterministic in the random stream alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lane_sad_core.data.synth.backdrop import Backdrop, sample_backdrop
from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.camera_fx import CameraFx, sample_fx
from lane_sad_core.data.synth.dashcam import Hood, Windscreen, sample_hood, sample_windscreen
from lane_sad_core.data.synth.ground import Surface, sample_surface
from lane_sad_core.data.synth.layout import RoadLayout, sample_layout
from lane_sad_core.data.synth.lens import RadialLens, sample_lens
from lane_sad_core.data.synth.lighting import Lighting, sample_lighting
from lane_sad_core.data.synth.looks import LOOKS
from lane_sad_core.data.synth.presets import SynthPreset
from lane_sad_core.data.synth.road import RoadShape
from lane_sad_core.data.synth.roadside import Roadside, sample_highway, sample_urban
from lane_sad_core.data.synth.textures import TILE_PAD
from lane_sad_core.data.synth.traffic import Vehicle, sample_traffic
from lane_sad_core.errors import ConfigError

# CULane's nine test categories, named as its list/test_split files name them.
CATEGORIES = ("normal", "crowd", "hlight", "shadow", "noline", "arrow", "curve", "cross", "night")
ALIASES = {
    "crowded": "crowd",
    "dazzle": "hlight",
    "dazzle_light": "hlight",
    "no_line": "noline",
    "crossroad": "cross",
    "curved": "curve",
}


def canonical_category(name: str) -> str:
    """CULane's name of a category, accepting common aliases (``crowded``, ``dazzle``)."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in CATEGORIES:
        raise ConfigError(f"unknown category '{name}' (known: {', '.join(CATEGORIES)})")
    return key


@dataclass
class Scene:
    """Everything needed to draw one frame and write its labels."""

    category: str
    camera: Camera
    road: RoadShape
    layout: RoadLayout
    surface: Surface
    traffic: list[Vehicle]
    roadside: Roadside
    backdrop: Backdrop
    light: Lighting
    fx: CameraFx
    label_gap_px: float
    texture_offset: int
    hood: Hood | None = None
    windscreen: Windscreen | None = None
    lens: RadialLens | None = None
    photo_grain: bool = False


def sample_camera(rng: np.random.Generator, preset: SynthPreset, rig_rng: np.random.Generator) -> Camera:
    """The car's camera (from the preset's rig ranges, drawn with ``rig_rng``) shaken by
    road bumps: small pitch, roll and height changes."""
    horizon = float(rig_rng.uniform(*preset.rig_horizon)) if preset.rig_horizon else None
    height = float(rig_rng.uniform(*preset.rig_height)) if preset.rig_height else None
    return preset.camera(horizon, height).jittered(
        pitch=float(np.radians(rng.normal(0.0, preset.pitch_jitter_deg))),
        roll=float(np.radians(np.clip(rng.normal(0.0, preset.roll_jitter_deg), -2.0, 2.0))),
        height_scale=float(np.clip(rng.normal(1.0, preset.height_jitter), 0.9, 1.1)),
    )


def sample_scene(rng: np.random.Generator, preset: SynthPreset, category: str) -> Scene:
    """Draw a complete scene of ``category`` for ``preset``.

    The camera rig, bonnet, windscreen, lens and photo grain draw from their own child streams of
    ``rng`` (spawning does not advance it), so switching one of them on or off in the
    preset leaves the rest of the scene as it was: paired comparisons of a feature.
    """
    category = canonical_category(category)
    look = LOOKS[preset.environment]
    rig_rng, hood_rng, screen_rng, lens_rng, photo_rng = rng.spawn(5)
    camera = sample_camera(rng, preset, rig_rng)
    layout, road = sample_layout(rng, preset, category)
    overcast = rng.random() < look.overcast_prob and category != "shadow"
    light = sample_lighting(rng, layout, category, overcast, camera)
    sampler = sample_urban if preset.environment == "urban" else sample_highway
    roadside = sampler(rng, layout, look)
    if layout.crossing is not None:
        crossing = layout.crossing
        roadside.open_gap(crossing.distance - 2.0, crossing.distance + crossing.stripe_length + crossing.width)
    surface = sample_surface(rng, look, layout, preset.environment)
    traffic = sample_traffic(rng, layout, look, preset.environment, category == "crowd", light.night)
    backdrop = sample_backdrop(rng, preset.environment, overcast, look.sky_clear, look.sky_overcast)
    fx = sample_fx(rng, light.night, rng.random() < preset.dashcam_prob, preset.jpeg_quality, (TILE_PAD, TILE_PAD // 4))
    screen = screen_rng.random() < preset.windscreen_prob
    return Scene(
        category=category,
        camera=camera,
        road=road,
        layout=layout,
        surface=surface,
        traffic=traffic,
        roadside=roadside,
        backdrop=backdrop,
        light=light,
        fx=fx,
        label_gap_px=float(rng.uniform(*preset.label_gap_px)),
        texture_offset=int(rng.integers(0, TILE_PAD)),
        hood=sample_hood(hood_rng, preset.hood_top) if fx.dashcam and preset.hood_top else None,
        windscreen=sample_windscreen(screen_rng) if fx.dashcam and screen else None,
        lens=sample_lens(lens_rng, preset.lens_k1) if lens_rng.random() < preset.lens_prob else None,
        photo_grain=bool(photo_rng.random() < preset.photo_texture_prob),
    )
