"""Road-surface grain cut from real photographs, read when a generator starts.

Procedural noise lacks what real asphalt and concrete show up close: polished wheel
tracks, tar seams, aggregate, stains. Given a folder of road photos (any camera; e.g. the
unlabelled frames of ``shared/data/real/unlabelled``), :func:`photo_grain` cuts patches
of road from the area just ahead of the car, rejects those with paint, vehicles or
shadow edges in them, keeps their fine detail (the patch minus its blur) and tiles it
into the same image-space grain tile the procedural generator makes. The photos are
read, never copied into the output. Without usable photos it returns None and the
generator keeps its procedural grain.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

PATCH = 48  # photo pixels per patch side
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv")
VIDEO_STEP = 30  # one frame in this many from a video
MAX_PATCHES = 4000


def read_photos(folder: str | Path) -> list[np.ndarray]:
    """Greyscale road photos under ``folder`` (images, and every 30th video frame)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    photos = []
    for path in sorted(root.rglob("*")):
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is not None:
                photos.append(image)
        elif suffix in VIDEO_SUFFIXES:
            photos += _video_frames(path)
    return photos


def _video_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % VIDEO_STEP == 0:
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            index += 1
    finally:
        capture.release()
    return frames


def road_patches(photo: np.ndarray) -> list[np.ndarray]:
    """Float32 detail (patch minus its blur) of plain road patches in one greyscale photo.

    Candidates tile the middle of the lower image (0.62..0.86 of the height, 0.3..0.7 of
    the width), where a forward camera sees the road just ahead; a patch is kept when
    nothing in it stands out from the road: no paint (bright outliers), no vehicle or
    shadow edge (a large spread), not flat (saturated or blank).
    """
    height, width = photo.shape[:2]
    rows = range(int(0.62 * height), int(0.86 * height) - PATCH, PATCH)
    cols = range(int(0.3 * width), int(0.7 * width) - PATCH, PATCH)
    out = []
    for y in rows:
        for x in cols:
            patch = photo[y : y + PATCH, x : x + PATCH].astype(np.float32)
            median = float(np.median(patch))
            spread = float(patch.std())
            if np.percentile(patch, 99.5) - median > 28 or not 1.5 < spread < 12 or not 25 < median < 230:
                continue
            out.append(patch - cv2.GaussianBlur(patch, (0, 0), 6.0))
    return out


def photo_grain(
    photos: list[np.ndarray], rng: np.random.Generator, height: int, width: int, horizon: float, scale: float
) -> np.ndarray | None:
    """An image-space grain tile (uint8, 3 channels, centred on 128) from photo patches.

    Patches are enlarged or shrunk by ``scale`` (render pixels per photo pixel), flipped
    at random, laid edge to edge and faded towards the horizon row as the procedural
    grain is (their detail shrinks with distance). None without usable patches.
    """
    patches = [p for photo in photos for p in road_patches(photo)][:MAX_PATCHES]
    if not patches:
        return None
    side = max(4, round(PATCH * scale))
    tile = np.zeros((height + side, width + side), np.float32)
    for y in range(0, height, side):
        for x in range(0, width, side):
            patch = cv2.resize(patches[int(rng.integers(len(patches)))], (side, side), interpolation=cv2.INTER_AREA)
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            tile[y : y + side, x : x + side] = patch
    ramp = np.clip((np.arange(height, dtype=np.float32) - horizon) / (height - horizon), 0, 1)
    grain = 128 + tile[:height, :width] * ramp[:, None]
    return cv2.merge([np.clip(grain, 0, 255).astype(np.uint8)] * 3)


def load_photo_grain(
    folder: str, seed: int, height: int, width: int, horizon: float, scale: float
) -> np.ndarray | None:
    """:func:`photo_grain` of the photos in ``folder``; logs and returns None when there
    are none (a missing folder is not an error: the procedural grain stands in)."""
    photos = read_photos(folder) if folder else []
    rng = np.random.default_rng([seed, 0x9407])
    grain = photo_grain(photos, rng, height, width, horizon, scale) if photos else None
    if folder and grain is None:
        log.warning("no road photos with plain road patches under %s; using procedural grain", folder)
    return grain
