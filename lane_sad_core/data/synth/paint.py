"""Road paint: lane markings, arrows and zebra crossings, blended with wear.

Paint is drawn exactly in image space (anti-aliased polygons through the camera), so
the labels, which follow the same geometry, sit on the painted pixels. Opacity is
premultiplied: the colour layer holds colour x coverage x opacity and the alpha layer
coverage x opacity, both then scaled by the paint condition the ground grid carries.
"""

from __future__ import annotations

import cv2
import numpy as np

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.data.synth.layout import RoadLayout, arrow_polygons, crossing_polygons
from lane_sad_core.data.synth.road import WHITE, RoadShape, marking_polygons
from lane_sad_core.data.synth.shapes import fill, ground_uv

PAINT_FAR = 260.0  # metres; paint further away is below a pixel


def _layers(cam: Camera, road: RoadShape, layout: RoadLayout, row0: int, z_near: float):
    """Yield (pixel polygons, colour, opacity) groups of everything painted."""
    shift = np.array([0.0, row0])
    for m in layout.markings:
        for batch in marking_polygons(road, m, z_near, PAINT_FAR):
            yield ground_uv(cam, batch) - shift, m.color, 1.0 - m.wear
    for arrow in layout.arrows:
        for batch in arrow_polygons(road, arrow):
            yield ground_uv(cam, batch) - shift, arrow.color, 1.0 - arrow.wear
    for batch in crossing_polygons(road, layout):
        yield ground_uv(cam, batch) - shift, WHITE, 0.85


def paint_road(
    img: np.ndarray,
    cam: Camera,
    road: RoadShape,
    layout: RoadLayout,
    row0: int,
    condition: np.ndarray,
    z_near: float = 0.8,
) -> None:
    """Blend all paint into image rows ``row0``.. using the paint condition map."""
    rows = img.shape[0] - row0
    alpha = np.zeros((rows, img.shape[1]), np.uint8)
    color = np.zeros((rows, img.shape[1], 3), np.uint8)
    for polys, bgr, opacity in _layers(cam, road, layout, row0, z_near):
        if len(polys) == 0 or opacity <= 0:
            continue
        fill(alpha, polys, 255.0 * opacity, disjoint=True)
        fill(color, polys, tuple(c * opacity for c in bgr), disjoint=True)
    alpha = cv2.multiply(alpha, condition, scale=1 / 255)
    color = cv2.multiply(color, cv2.merge([condition] * 3), scale=1 / 255)
    ground = img[row0:]
    keep = cv2.merge([cv2.bitwise_not(alpha)] * 3)
    cv2.add(cv2.multiply(ground, keep, scale=1 / 255), color, dst=ground)
