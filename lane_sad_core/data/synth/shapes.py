"""Drawing helpers: 3D road-frame shapes to anti-aliased, sub-pixel image polygons."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from lane_sad_core.data.synth.camera import Camera

SHIFT = 4  # fixed-point bits of OpenCV's polygon drawing: 1/16 px positions
_SCALE = float(1 << SHIFT)


def fixed_point(uv: np.ndarray) -> np.ndarray:
    """(N, 2) float pixels to the (N, 1, 2) int32 fixed-point form cv2 drawing takes.

    No clipping is needed: projection clamps depth at ``NEAR_DEPTH``, so coordinates stay
    within ~1e6 px, far inside int32 after the 16x fixed-point scale.
    """
    return np.rint(uv * _SCALE).astype(np.int32).reshape(-1, 1, 2)


def fill(
    img: np.ndarray,
    polygons: Sequence[np.ndarray] | np.ndarray,
    color: Sequence[float] | float,
    antialias: bool = True,
    disjoint: bool = False,
) -> None:
    """Fill the union of pixel-space polygons: (N, 2) arrays, or a (K, N, 2) batch.

    Given several contours at once OpenCV applies the even-odd rule, which punches holes
    where shapes overlap; so polygons are filled one by one unless the caller knows they
    are ``disjoint`` (dashes, windows), which allows a single call.
    """
    if len(polygons) == 0:
        return
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    if isinstance(polygons, np.ndarray):
        fixed = list(fixed_point(polygons.reshape(-1, 2)).reshape(len(polygons), -1, 1, 2))
    else:
        fixed = [fixed_point(p) for p in polygons]
    if disjoint:
        cv2.fillPoly(img, fixed, color, line, SHIFT)
        return
    for contour in fixed:
        cv2.fillPoly(img, [contour], color, line, SHIFT)


def ground_uv(cam: Camera, xz: np.ndarray, above: float | np.ndarray = 0.0) -> np.ndarray:
    """Pixels of (..., 2) vehicle (x, z) points ``above`` metres over the road."""
    uv, _ = cam.project_ground(xz[..., 0], xz[..., 1], above)
    return uv


def face_point(quad: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Bilinear point of a projected face [bottom-left, bottom-right, top-right, top-left].

    ``a`` runs left to right and ``b`` bottom to top in [0, 1]. Faces of boxes seen from a
    few metres away are close to fronto-parallel, so the bilinear map is within a pixel
    of the true perspective one.
    """
    a = np.asarray(a, float)[..., None]
    b = np.asarray(b, float)[..., None]
    bottom = quad[0] * (1 - a) + quad[1] * a
    top = quad[3] * (1 - a) + quad[2] * a
    return bottom * (1 - b) + top * b


def face_rect(quad: np.ndarray, a0: float, a1: float, b0: float, b1: float) -> np.ndarray:
    """Sub-rectangle of a face in its (a, b) coordinates, as a pixel polygon."""
    return face_point(quad, np.array([a0, a1, a1, a0]), np.array([b0, b0, b1, b1]))


def shade(color: Sequence[float], factor: float) -> tuple[float, float, float]:
    """A colour scaled by ``factor`` and clipped to 0..255."""
    r, g, b = (float(min(255.0, max(0.0, c * factor))) for c in color)
    return r, g, b


def visible_rows(img_height: int, polygons: Sequence[np.ndarray]) -> tuple[int, int]:
    """Row span [top, bottom) covered by polygons, clipped to the image."""
    ys = np.concatenate([p[:, 1] for p in polygons])
    return max(0, int(np.floor(ys.min()))), min(img_height, int(np.ceil(ys.max())) + 1)


TextureSource = Callable[[slice, slice], np.ndarray]


def tile_source(tile: np.ndarray, offset: tuple[int, int] = (0, 0)) -> TextureSource:
    """Texture lookup into ``tile`` shifted by ``offset`` (x, y) pixels."""
    ox, oy = offset

    def lookup(rows: slice, cols: slice) -> np.ndarray:
        return tile[rows.start + oy : rows.stop + oy, cols.start + ox : cols.stop + ox]

    return lookup


def masked_copy(img: np.ndarray, polygons: Sequence[np.ndarray] | np.ndarray, texture: TextureSource) -> None:
    """Paint polygons with a texture, touching only their bounding box.

    ``texture(rows, cols)`` returns the texture pixels of that image window, so callers
    can shift, tint or haze a tile just for the window that is painted.
    """
    if len(polygons) == 0:
        return
    pts = polygons.reshape(-1, 2) if isinstance(polygons, np.ndarray) else np.concatenate(polygons)
    h, w = img.shape[:2]
    x0, y0 = max(0, int(pts[:, 0].min())), max(0, int(pts[:, 1].min()))
    x1, y1 = min(w, int(np.ceil(pts[:, 0].max())) + 1), min(h, int(np.ceil(pts[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    origin = np.array([x0, y0], float)
    shifted = polygons - origin if isinstance(polygons, np.ndarray) else [p - origin for p in polygons]
    fill(mask, shifted, 255, antialias=False)
    cv2.copyTo(texture(slice(y0, y1), slice(x0, x1)), mask, img[y0:y1, x0:x1])
