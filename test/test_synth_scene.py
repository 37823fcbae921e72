"""Scene sampling per category, and that labels lie on the painted lines."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lane_sad_core.data.synth.camera_fx import CameraFx
from lane_sad_core.data.synth.lens import RadialLens
from lane_sad_core.data.synth.lighting import Lighting
from lane_sad_core.data.synth.presets import PRESETS, SynthPreset, preset, slot_overrides
from lane_sad_core.data.synth.render import SceneRenderer, scene_lanes
from lane_sad_core.data.synth.roadside import Roadside
from lane_sad_core.data.synth.scene import CATEGORIES, Scene, canonical_category, sample_scene
from lane_sad_core.errors import ConfigError

N = 24  # scenes per category: enough to see each category's defining trait every time


def _scenes(category: str, name: str = "culane") -> list:
    return [sample_scene(np.random.default_rng([5, i]), PRESETS[name], category) for i in range(N)]


def test_aliases_and_unknown_names() -> None:
    assert canonical_category("Crowded") == "crowd"
    assert canonical_category("dazzle") == "hlight"
    assert set(CATEGORIES) == {
        "normal",
        "crowd",
        "hlight",
        "shadow",
        "noline",
        "arrow",
        "curve",
        "cross",
        "night",
    }
    with pytest.raises(ConfigError, match="unknown category 'fog'"):
        canonical_category("fog")


def test_each_category_has_its_trait() -> None:
    assert all(s.light.night for s in _scenes("night"))
    assert all(s.light.glare for s in _scenes("hlight"))
    assert all(len(s.light.shadows) >= 12 for s in _scenes("shadow"))
    assert all(s.layout.arrows for s in _scenes("arrow"))
    assert all(abs(s.road.curvature) >= 1 / 450 for s in _scenes("curve"))
    assert all(abs(s.road.curvature) < 1 / 600 for s in _scenes("normal"))
    noline = [m for s in _scenes("noline") for m in s.layout.markings]
    assert all(m.wear >= 0.75 or m.style == "none" for m in noline)
    crowd = np.mean([len(s.traffic) for s in _scenes("crowd")])
    assert crowd > 2 * np.mean([len(s.traffic) for s in _scenes("normal")])


def test_crossroads_label_no_lane_and_paint_starts_beyond_the_crossing() -> None:
    for s in _scenes("cross"):
        assert scene_lanes(s) == []
        end = s.layout.crossing.distance + s.layout.crossing.stripe_length + s.layout.crossing.width
        assert all(m.z_start == pytest.approx(end) for m in s.layout.markings)


@pytest.mark.parametrize("slots", [4, 6])
def test_slots_are_the_boundaries_around_the_ego_lane(slots: int) -> None:
    chosen = preset("culane", **slot_overrides("culane", slots))
    seen = set()
    for i in range(N):
        s = sample_scene(np.random.default_rng([5, i]), chosen, "normal")
        for lane in scene_lanes(s):
            marking = next(m for m in s.layout.markings if m.slot == lane.slot)
            j = round(marking.lateral / s.layout.lane_width - 0.5)
            assert lane.slot == j + slots // 2  # slots // 2 - 1 and slots // 2: the ego lane's lines
            assert np.all(np.diff(lane.points[:, 1]) < 0)  # bottom to top
            seen.add(lane.slot)
    assert seen == set(range(slots))


def test_tusimple_mostly_labels_four_lanes_and_sometimes_five() -> None:
    counts = [
        len(scene_lanes(sample_scene(np.random.default_rng([6, i]), PRESETS["tusimple"], "normal"))) for i in range(100)
    ]
    assert max(counts) == 5 and min(counts) >= 2
    assert counts.count(4) > 50  # the real TuSimple frames: 4 lanes in 11 of 14


def test_tusimple_fifth_lane_on_either_side() -> None:
    """The extra boundary is labelled left of the four as well as right of them."""
    sides = set()
    for i in range(300):
        layout = sample_scene(np.random.default_rng([6, i]), PRESETS["tusimple"], "normal").layout
        labelled = [round(m.lateral / layout.lane_width - 0.5) for m in layout.markings if m.slot >= 0]
        sides.update(j for j in labelled if not -2 <= j <= 1)
    assert sides == {-3, 2}


def _plain_scene(preset: SynthPreset, renderer: SceneRenderer) -> Scene:
    """A scene with solid fresh paint and nothing else in view."""
    renderer.bank.wear = [np.full_like(tile, 255) for tile in renderer.bank.wear]  # no flaking
    scene = sample_scene(np.random.default_rng(11), preset, "normal")
    scene.layout.markings = [replace(m, style="solid", wear=0.0, color=(255, 255, 255)) for m in scene.layout.markings]
    scene.layout.arrows = []
    scene.traffic = []
    scene.roadside = Roadside()
    scene.light = Lighting(False, 1.0, 0.0, (), (), 0.0)
    scene.surface = replace(scene.surface, tracks=0.0, patches=(), cracks=())
    scene.fx = CameraFx(1.0, (1.0, 1.0, 1.0), 1.0, 1.0, 1.0, 0.0, 1, 0.0, 0.0, (0, 0), 95, False, "")
    return scene


def _paint_hits(image: np.ndarray, lanes: list, horizon: float, size: tuple[int, int]) -> list[bool]:
    """Per label point well below the horizon and inside the frame: brighter than the road
    25 px to either side (on a painted line)."""
    width, height = size
    hits = []
    for lane in lanes:
        pts = np.round(lane.points).astype(int)
        near = (pts[:, 1] > horizon + 60) & (pts[:, 1] < height) & (pts[:, 0] >= 30) & (pts[:, 0] < width - 30)
        for u, v in pts[near]:
            hits.append(image[v, u] > image[v, u - 25] + 60 and image[v, u] > image[v, u + 25] + 60)
    return hits


@pytest.mark.parametrize("name", ["culane", "tusimple"])
@pytest.mark.parametrize("k1", [0.0, -0.1, 0.03])
def test_labels_sit_on_painted_pixels(name: str, k1: float) -> None:
    """Every label point is paint, also through a distorting lens (the labels are moved
    as the pixels are)."""
    preset = PRESETS[name]
    renderer = SceneRenderer(preset, seed=0)
    scene = _plain_scene(preset, renderer)
    scene.lens = RadialLens(k1) if k1 else None
    image = renderer.render(scene).astype(int).sum(axis=2)
    lanes = scene_lanes(scene)
    assert len(lanes) >= 2
    horizon = scene.camera.horizon_rows(np.array([scene.camera.cx]))[0]
    hits = _paint_hits(image, lanes, horizon, (preset.width, preset.height))
    assert len(hits) > 20
    assert np.mean(hits) > 0.97
