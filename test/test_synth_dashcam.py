"""The real cameras' look in the synthetic generator: camera rigs, bonnets, windscreen,
lens distortion and photo grain; labels through the bonnet and through vehicles."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.dashcam import Hood, draw_hood, hood_edge
from lane_sad_core.data.synth.lens import RadialLens
from lane_sad_core.data.synth.photos import load_photo_grain, road_patches
from lane_sad_core.data.synth.presets import FEATURES_OFF, FEATURES_ON, PRESETS, preset
from lane_sad_core.data.synth.render import SceneRenderer, scene_lanes
from lane_sad_core.data.synth.scene import sample_scene
from lane_sad_core.data.synth.writer import FrameWriter, SynthSettings, culane_rows

ALL_ON = {k: v for feature in FEATURES_ON.values() for k, v in feature.get("culane", {}).items()}


def _scene(seed: int, **fields: object):
    return sample_scene(np.random.default_rng([seed, 0]), preset("culane", **fields), "normal")


def test_labels_run_under_a_tall_bonnet_to_the_bottom_row() -> None:
    """The bonnet hides the near road, yet the ego lanes are labelled down to the last
    row, as CULane labels them; the pixels there are bonnet, not paint."""
    fields = {"dashcam_prob": 1.0, "hood_top": (0.75, 0.76)}
    p = preset("culane", **fields)
    scene = _scene(3, **fields)
    assert scene.hood is not None and scene.hood.top == pytest.approx(0.755, abs=0.006)
    scene.hood = replace(scene.hood, color=(40, 40, 40), gloss=0.0, lip=0.0)  # plain dark paint
    image = SceneRenderer(p, 0).render(scene)
    lanes = [culane_rows(lane, p.width, p.height, 0.05 * p.width) for lane in scene_lanes(scene)]
    ego = [lane for lane in lanes if lane.slot in (1, 2)]
    assert len(ego) == 2
    edge = hood_edge(scene.hood, p.width, p.height)
    for lane in ego:
        assert lane.points[:, 1].max() == p.height  # CULane's first row: the image bottom
        under = [(x, y) for x, y in lane.points if 0 <= x < p.width and y > edge[int(x)] + 10 and y < p.height]
        assert len(under) >= 5
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        assert all(grey[int(y), int(x)] < 80 for x, y in under)  # bonnet there, no paint


def test_labels_do_not_depend_on_vehicles_in_front() -> None:
    """Lanes are labelled through occluding vehicles: the same lanes with or without traffic."""
    for i in range(8):
        scene = sample_scene(np.random.default_rng([4, i]), PRESETS["culane"], "crowd")
        assert scene.traffic
        with_cars = scene_lanes(scene)
        scene.traffic = []
        without = scene_lanes(scene)
        assert [lane.slot for lane in with_cars] == [lane.slot for lane in without]
        assert all(np.array_equal(a.points, b.points) for a, b in zip(with_cars, without, strict=True))


def test_hood_is_drawn_below_its_edge_only() -> None:
    img = np.full((100, 200, 3), 200, np.uint8)
    hood = Hood(0.7, 0.5, 0.4, 3.0, (40, 40, 40), 0.0, 2.0, 0.0, 0.0)
    draw_hood(img, hood)
    edge = hood_edge(hood, 200, 100)
    assert edge.min() == pytest.approx(70, abs=0.5)
    assert np.all(img[:69] == 200)  # above the edge: untouched
    assert img[99, 100].max() < 40 and img[75, 100].max() <= 41  # paint, darker to the bottom
    assert np.all(img[99, :15] == 200)  # beside the bonnet: road


@pytest.mark.parametrize("k1", [-0.1, -0.05, 0.03])
def test_lens_map_and_label_distortion_are_inverse(k1: float) -> None:
    """The pixel an output pixel shows, distorted like a label point, lands on that output pixel."""
    cam = Camera.centred(820, 295, 500.0, 1.35, 0.05)
    lens = RadialLens(k1)
    maps = lens.source_map(cam)
    map_x, map_y = cv2.convertMaps(*maps, cv2.CV_32FC1)
    rng = np.random.default_rng(0)
    cols, rows = rng.integers(0, 820, 200), rng.integers(0, 295, 200)
    source = np.stack([map_x[rows, cols], map_y[rows, cols]], 1)
    back = lens.distort(source, cam)
    assert np.abs(back - np.stack([cols, rows], 1)).max() < 0.1  # fixed-point maps: 1/32 px
    # Corners show scene (the zoom keeps them inside the drawn image).
    assert map_x[0, 0] >= 0 and map_x[-1, -1] <= 819 and map_y[0, 0] >= 0 and map_y[-1, -1] <= 294


def test_features_are_deterministic_and_independent_of_each_other() -> None:
    """Same seed, same frame; switching one feature off leaves the rest of the scene and
    the other features as they were (paired comparisons rest on this)."""
    on = dict(ALL_ON, dashcam_prob=1.0, lens_prob=1.0, windscreen_prob=1.0)
    a, b = _scene(9, **on), _scene(9, **on)
    assert a.hood == b.hood and a.windscreen == b.windscreen and a.lens == b.lens and a.camera == b.camera
    no_lens = _scene(9, **dict(on, lens_prob=0.0))
    assert no_lens.lens is None and no_lens.hood == a.hood and no_lens.windscreen == a.windscreen
    off = _scene(9, **dict(FEATURES_OFF["culane"], dashcam_prob=1.0))
    assert off.hood is None and off.windscreen is None and off.lens is None
    assert off.road == a.road and off.traffic == a.traffic and off.fx == a.fx


def test_same_seed_same_bytes_with_every_feature_on(tmp_path: Path) -> None:
    settings = SynthSettings("culane", 3, seed=2, overrides=dict(ALL_ON, photo_textures=str(tmp_path / "none")))
    first = [FrameWriter(tmp_path, settings).render(i).image for i in range(3)]
    again = [FrameWriter(tmp_path, settings).render(i).image for i in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))


def test_rig_ranges_move_the_horizon_and_camera_height() -> None:
    fields = {"rig_horizon": (0.5, 0.66), "rig_height": (1.1, 1.45)}
    cams = [_scene(i, **fields).camera for i in range(30)]
    rows = np.array([c.horizon_rows(np.array([c.cx]))[0] / c.height for c in cams])
    heights = np.array([c.mount_height for c in cams])
    assert rows.min() < 0.54 and rows.max() > 0.62 and np.all((rows > 0.47) & (rows < 0.69))  # jitter: +-0.5 deg
    assert heights.min() < 1.15 and heights.max() > 1.35


def _photo(paint: bool) -> np.ndarray:
    rng = np.random.default_rng(1)
    photo = np.clip(90 + rng.normal(0, 5, (540, 960)), 0, 255).astype(np.uint8)
    if paint:
        photo[:, 470:490] = 240
    return photo


def test_photo_patches_skip_paint() -> None:
    plain, painted = road_patches(_photo(False)), road_patches(_photo(True))
    assert len(plain) > 10
    assert len(painted) < len(plain)  # the patches the line crosses are rejected
    assert all(abs(float(p.mean())) < 1.0 for p in plain)  # detail only, centred on 0


def test_photo_grain_reads_a_folder_and_falls_back_without_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cv2.imwrite(str(tmp_path / "road.jpg"), _photo(False))
    grain = load_photo_grain(str(tmp_path), 0, 120, 300, 40.0, 0.5)
    assert grain is not None and grain.shape == (120, 300, 3)
    assert np.all(grain[:40] == 128) and grain[100:].std() > 0.5  # faded out above the horizon
    with caplog.at_level(logging.WARNING):
        assert load_photo_grain(str(tmp_path / "missing"), 0, 120, 300, 40.0, 0.5) is None
    assert "procedural grain" in caplog.text
    p = preset("culane", photo_textures=str(tmp_path / "missing"), photo_texture_prob=1.0)
    renderer = SceneRenderer(p, 0)
    scene = sample_scene(np.random.default_rng(0), p, "normal")
    assert scene.photo_grain and renderer.photo_grain is None
    assert renderer.render(scene).shape == (590, 1640, 3)  # procedural grain stands in
