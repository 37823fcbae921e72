"""Draw a :class:`~lane_sad_core.data.synth.scene.Scene` and compute its ground truth.

Drawing order: sky, ground grid, far silhouettes, paint, cast shadows, roadside
structures, then trees, poles, vehicles and bridges from far to near, then night light
and glare, then the camera. Labels come from the same road geometry and camera as the
paint, so they lie on the painted lines to within anti-aliasing.
"""

from __future__ import annotations

import cv2
import numpy as np

from lane_sad_core.data.synth.backdrop import draw_silhouette, draw_sky
from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.camera_fx import CameraModel
from lane_sad_core.data.synth.dashcam import draw_hood, draw_windscreen
from lane_sad_core.data.synth.ground import compose_canvas, draw_surface_lines, render_ground
from lane_sad_core.data.synth.lens import RadialLens
from lane_sad_core.data.synth.lighting import (
    add_glow,
    apply_glare,
    apply_night,
    apply_shade,
    draw_shadows,
    glow_sprite,
    headlight_map,
    lamp_pool,
)
from lane_sad_core.data.synth.looks import LOOKS
from lane_sad_core.data.synth.paint import paint_road
from lane_sad_core.data.synth.photos import load_photo_grain
from lane_sad_core.data.synth.presets import SynthPreset
from lane_sad_core.data.synth.road import lane_centreline
from lane_sad_core.data.synth.roadside import (
    Overpass,
    PoleShape,
    TreeShape,
    draw_building,
    draw_embankment,
    draw_overpass,
    draw_pole,
    draw_structure,
    draw_trees,
    pole_shapes,
    tree_shapes,
)
from lane_sad_core.data.synth.scene import Scene
from lane_sad_core.data.synth.shapes import ground_uv
from lane_sad_core.data.synth.textures import TILE_PAD, TextureBank
from lane_sad_core.data.synth.traffic import VehicleShape, draw_vehicle, draw_vehicle_shadows, vehicle_shapes
from lane_sad_core.lanes import Lane

LABEL_FAR = 400.0  # metres; labels stop at the label horizon well before this


def scene_lanes(scene: Scene) -> list[Lane]:
    """Labelled boundaries as image polylines (bottom to top), slot = CULane slot.

    A lane runs from below the image bottom up to ``label_gap_px`` rows under the
    horizon, as annotators stop where a lane can no longer be told apart. It runs on
    through vehicles and under the car's bonnet to the bottom row, as CULane's labels do.
    Through a distorting lens the points are moved as the pixels are.
    """
    cam = scene.camera
    lens = scene.lens if scene.lens is not None and scene.lens.k1 != 0.0 else None
    lanes = []
    for marking in scene.layout.markings:
        if marking.slot < 0:
            continue
        uv = ground_uv(cam, lane_centreline(scene.road, marking, 0.8, LABEL_FAR))
        below = uv[:, 1] >= cam.horizon_rows(uv[:, 0]) + scene.label_gap_px
        rising = np.concatenate([[True], np.diff(uv[:, 1]) < 0])
        keep = np.logical_and.accumulate(below & rising)
        if lens is not None:  # near points far outside the frame can pass the lens's fold
            keep &= np.logical_and.accumulate(lens.valid(uv, cam)[::-1])[::-1]
        if keep.sum() >= 2:
            lanes.append(Lane(uv[keep] if lens is None else lens.distort(uv[keep], cam), slot=marking.slot))
    return lanes


class SceneRenderer:
    """Draws scenes of one preset; owns the textures and camera maps (built once)."""

    def __init__(self, preset: SynthPreset, seed: int) -> None:
        self.preset = preset
        self.look = LOOKS[preset.environment]
        self.scale = preset.render_scale
        base = preset.camera().scaled(self.scale)
        horizon = float(base.horizon_rows(np.array([base.cx]))[0])
        self.bank = TextureBank.build(self.look, base.width, base.height, horizon, seed)
        self.photo_grain = (
            load_photo_grain(preset.photo_textures, seed, base.height, base.width + TILE_PAD, horizon, self.scale)
            if preset.photo_texture_prob > 0
            else None
        )
        self.camera_model = CameraModel.build(base.width, base.height)
        self.headlight = headlight_map(base)
        self.sprite = glow_sprite()
        self._lens_maps: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def render(self, scene: Scene) -> np.ndarray:
        """The frame (BGR uint8, preset size) of ``scene``.

        The scene and the camera response are drawn at ``render_scale`` of the output
        size, enlarged, then stamped with the recorder's clock.
        """
        out_w, out_h = scene.camera.width, scene.camera.height
        img = self._draw(scene, scene.camera.scaled(self.scale))
        if img.shape[:2] != (out_h, out_w):
            img = cv2.resize(img, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        self.camera_model.overlay(img, scene.fx)
        return img

    def _draw(self, scene: Scene, cam: Camera) -> np.ndarray:
        """Everything before the sensor, through camera ``cam`` (at render size)."""
        road, layout = scene.road, scene.layout
        img: np.ndarray = np.empty((cam.height, cam.width, 3), np.uint8)
        sky_rows = draw_sky(img, cam, scene.backdrop, self.bank)
        canvas = compose_canvas(scene.surface, layout, self.bank)
        haze = (scene.backdrop.horizon, scene.backdrop.haze)
        grain = self.photo_grain if scene.photo_grain and self.photo_grain is not None else self.bank.grain
        row0, condition = render_ground(img, cam, road, canvas, grain, scene.texture_offset, haze)
        for layer in scene.backdrop.layers:
            draw_silhouette(img, cam, layer, scene.backdrop, self.bank, scene.texture_offset)
        draw_surface_lines(img, cam, road, scene.surface, layout)
        paint_road(img, cam, road, layout, row0, condition)
        self._shadows(img, scene, cam, row0)
        self._roadside(img, scene, cam)
        lamps = self._objects(img, scene, cam)
        if scene.light.night:
            self._night(img, scene, cam, lamps, sky_rows)
        if scene.light.glare:
            apply_glare(img, self.sprite, scene.light.glare)
        self._dashcam(img, scene)
        if scene.lens is not None and scene.lens.k1 != 0.0:
            img = cv2.remap(img, *self._lens_map(scene.lens, cam), cv2.INTER_LINEAR)
        near_row = row0 + (cam.height - row0) // 3
        self.camera_model.optics(img, scene.fx, near_row, self.scale, self.bank.sensor)
        return img

    def _dashcam(self, img: np.ndarray, scene: Scene) -> None:
        """The car's own bonnet (varied or the classic one) and the windscreen."""
        if not scene.fx.dashcam:
            return
        if scene.hood is not None:
            draw_hood(img, scene.hood)
        else:
            self.camera_model.classic_hood(img)
        if scene.windscreen is not None:
            draw_windscreen(img, scene.windscreen)

    def _lens_map(self, lens: RadialLens, cam: Camera) -> tuple[np.ndarray, np.ndarray]:
        """The remap tables of ``lens`` at render size, made once per coefficient (they are
        rounded to 0.01, so a renderer holds a dozen or so)."""
        key = (lens.k1, cam.width, cam.height, cam.focal, cam.cx, cam.cy)
        if key not in self._lens_maps:
            self._lens_maps[key] = lens.source_map(cam)
        return self._lens_maps[key]

    def _shadows(self, img: np.ndarray, scene: Scene, cam: Camera, row0: int) -> None:
        shade = np.full((cam.height - row0, cam.width), 255, np.uint8)
        draw_shadows(shade, row0, cam, scene.road, scene.light)
        draw_vehicle_shadows(shade, row0, cam, scene.road, scene.traffic)
        apply_shade(img, row0, shade, max(3, int(5 * self.scale) | 1))

    def _roadside(self, img: np.ndarray, scene: Scene, cam: Camera) -> None:
        road, side = scene.road, scene.roadside
        for emb in side.embankments:
            draw_embankment(img, cam, road, emb, self.bank, scene.texture_offset)
        for building in sorted(side.buildings, key=lambda b: -b.distance):
            draw_building(img, cam, road, building)
        for structure in side.structures:
            draw_structure(img, cam, road, structure)

    def _objects(self, img: np.ndarray, scene: Scene, cam: Camera) -> list[tuple[float, float, float, str]]:
        """Trees, poles, vehicles and bridges far to near; returns lamps (u, v, px, kind).

        Consecutive trees in depth order are drawn together (one textured copy for all
        their crowns), which keeps occlusion right at a fraction of the cost.
        """
        road, side = scene.road, scene.roadside
        items: list[tuple[float, TreeShape | PoleShape | VehicleShape | Overpass]] = [
            (t.distance, t) for t in tree_shapes(cam, road, side.trees)
        ]
        items += [(p.distance, p) for p in pole_shapes(cam, road, side.poles)]
        items += [(v.vehicle.distance, v) for v in vehicle_shapes(cam, road, scene.traffic)]
        if side.overpass is not None:
            items.append((side.overpass.distance, side.overpass))
        lamps: list[tuple[float, float, float, str]] = []
        pending: list[TreeShape] = []
        for _, item in sorted(items, key=lambda it: -it[0]):
            if isinstance(item, TreeShape):
                pending.append(item)
                continue
            self._trees(img, pending, scene.texture_offset)
            pending = []
            if isinstance(item, PoleShape):
                lamps += [(u, v, px, "street") for u, v, px in draw_pole(img, item)]
            elif isinstance(item, VehicleShape):
                lamps += [
                    (u, v, px, "head" if head else "tail")
                    for u, v, px, head in draw_vehicle(img, item, small=14 * self.scale)
                ]
            else:
                draw_overpass(img, cam, road, item)
        self._trees(img, pending, scene.texture_offset)
        return lamps

    def _trees(self, img: np.ndarray, trees: list[TreeShape], texture_offset: int) -> None:
        if trees:
            draw_trees(img, trees, self.bank, texture_offset, self.look.foliage, 12 * self.scale)

    def _night(self, img: np.ndarray, scene: Scene, cam: Camera, lamps: list, sky_rows: int) -> None:
        road = scene.road
        pools = [
            lamp_pool(cam, road, p.lateral + p.arm, p.distance)
            for p in scene.roadside.poles
            if p.arm and p.sign is None
        ]
        apply_night(img, self.headlight, scene.light, pools, sky_rows)
        colors = {"street": (120, 200, 255), "head": (230, 240, 255), "tail": (60, 60, 255)}
        for u, v, px, kind in lamps:
            strength = 1.6 if kind == "head" else 1.0
            add_glow(img, self.sprite, u, v, max(4.0, 6 * px), colors[kind], strength)
            if kind != "street":
                add_glow(img, self.sprite, u, v, max(3.0, 3 * px), colors[kind], 0.35, stretch=4.0)
